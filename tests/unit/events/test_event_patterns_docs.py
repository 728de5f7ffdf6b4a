"""Event patterns against the EventBridge User Guide's own examples.

Each example is taken from a page of the guide (named in ``page``) and comes with an event that
matches and one that does not. Pages:

- EVENT_PATTERNS: "Amazon EventBridge event patterns" / "Creating event patterns in EventBridge"
- NULLS: "Matching null values and empty strings in Amazon EventBridge event patterns"
- ARRAYS: "Arrays in Amazon EventBridge event patterns"
- OPERATORS: "Comparison operators for use in event patterns in Amazon EventBridge" (its summary
  table and sections; older versions: "Content filtering in Amazon EventBridge event patterns")
"""

from __future__ import annotations

from typing import Any

import pytest

from driftloop.errors import ConfigError
from driftloop.events.patterns import matches, validate_pattern

EVENT_PATTERNS = "Amazon EventBridge event patterns"
NULLS = "Matching null values and empty strings in Amazon EventBridge event patterns"
ARRAYS = "Arrays in Amazon EventBridge event patterns"
OPERATORS = "Comparison operators for use in event patterns in Amazon EventBridge"

EC2_EVENT = {
    "version": "0",
    "id": "6a7e8feb-b491-4cf7-a9f1-bf3703467718",
    "detail-type": "EC2 Instance State-change Notification",
    "source": "aws.ec2",
    "account": "111122223333",
    "time": "2017-12-22T18:43:48Z",
    "region": "us-west-1",
    "resources": ["arn:aws:ec2:us-west-1:123456789012:instance/i-1234567890abcdef0"],
    "detail": {"instance-id": "i-1234567890abcdef0", "state": "terminated"},
}
AUTOSCALING_EVENT = {
    "detail-type": "EC2 Instance Launch Successful",
    "source": "aws.autoscaling",
    "resources": [],
    "detail": {"eventVersion": "", "responseElements": None},
}
MACIE_EVENT = {
    "detail-type": "Macie Alert",
    "source": "aws.macie",
    "detail": {"risk-score": 80, "trigger": {"risk": 8, "alert-type": "basic"}},
}
RULER_EVENT = {  # the event of the numeric and complex examples
    "time": "2017-10-02T16:24:49Z",
    "detail": {"c-count": 5, "d-count": 3, "x-limit": 301.8, "state": "running"},
}
NUMERIC = {
    "detail": {
        "c-count": [{"numeric": [">", 0, "<=", 5]}],
        "d-count": [{"numeric": ["<", 10]}],
        "x-limit": [{"numeric": ["=", 3.018e2]}],
    }
}


def changed(event: dict[str, Any], **detail: Any) -> dict[str, Any]:
    return {**event, "detail": {**event["detail"], **detail}}


# (page, pattern, an event that matches, an event that does not)
EXAMPLES: list[tuple[str, dict[str, Any], dict[str, Any], dict[str, Any]]] = [
    (
        EVENT_PATTERNS,  # the EC2 instance-termination pattern
        {
            "source": ["aws.ec2"],
            "detail-type": ["EC2 Instance State-change Notification"],
            "detail": {"state": ["terminated"]},
        },
        EC2_EVENT,
        changed(EC2_EVENT, state="running"),
    ),
    (
        EVENT_PATTERNS,  # matching values: aws.ec2 or aws.fargate
        {"source": ["aws.ec2", "aws.fargate"]},
        {**EC2_EVENT, "source": "aws.fargate"},
        {**EC2_EVENT, "source": "aws.s3"},
    ),
    (
        EVENT_PATTERNS,  # field matching on a null value
        {
            "source": ["aws.autoscaling"],
            "detail-type": ["EC2 Instance Launch Successful"],
            "detail": {"responseElements": [None]},
        },
        AUTOSCALING_EVENT,
        changed(AUTOSCALING_EVENT, responseElements={"instanceId": "i-1"}),
    ),
    (
        EVENT_PATTERNS,  # value matching: risk score 80 and trigger risk 8
        {
            "source": ["aws.macie"],
            "detail-type": ["Macie Alert"],
            "detail": {"risk-score": [80], "trigger": {"risk": [8]}},
        },
        MACIE_EVENT,
        changed(MACIE_EVENT, trigger={"risk": 9}),
    ),
    (
        EVENT_PATTERNS,  # "exact character-by-character matching without case-folding"
        {"Name": ["Alice"]},
        {"Name": "Alice"},
        {"Name": "alice"},
    ),
    (
        EVENT_PATTERNS,  # "300, 300.0, and 3.0e2 are not considered equal"
        {"Price": [300]},
        {"Price": 300},
        {"Price": 300.0},
    ),
    (
        EVENT_PATTERNS,  # the event must contain every field of the pattern
        {"source": ["aws.ec2"], "detail": {"instance-id": ["i-1234567890abcdef0"]}},
        EC2_EVENT,
        {"source": "aws.ec2", "detail": {"state": "terminated"}},
    ),
    (
        NULLS,
        {"detail": {"eventVersion": [""]}},
        AUTOSCALING_EVENT,
        changed(AUTOSCALING_EVENT, eventVersion=None),
    ),
    (
        NULLS,
        {"detail": {"responseElements": [None]}},
        AUTOSCALING_EVENT,
        changed(AUTOSCALING_EVENT, responseElements=""),
    ),
    (
        ARRAYS,  # the first value of the pattern matches the second element of the event
        {
            "resources": [
                "arn:aws:ec2:us-east-1:123456789012:instance/i-b188560f",
                "arn:aws:ec2:us-east-1:111122223333:instance/i-b188560f",
                "arn:aws:ec2:us-east-1:444455556666:instance/i-b188560f",
            ]
        },
        {
            "resources": [
                "arn:aws:autoscaling:us-east-1:123456789012:autoScalingGroup:eb56d16b-bbf0-401d-b893-d5978ed4a025:autoScalingGroupName/ASGTerminate",
                "arn:aws:ec2:us-east-1:123456789012:instance/i-b188560f",
            ]
        },
        {"resources": ["arn:aws:ec2:us-east-1:999999999999:instance/i-b188560f"]},
    ),
    (
        OPERATORS,
        {"time": [{"prefix": "2017-10-02"}]},
        {"time": "2017-10-02T18:43:48Z"},
        {"time": "2017-10-03T18:43:48Z"},
    ),
    (OPERATORS, {"Region": [{"prefix": "us-"}]}, {"Region": "us-east-1"}, {"Region": "eu-west-1"}),
    (
        OPERATORS,  # prefix matching while ignoring case
        {"detail": {"service": [{"prefix": {"equals-ignore-case": "EventB"}}]}},
        {"detail": {"service": "EVENTBRIDGE"}},
        {"detail": {"service": "AmazonEventBridge"}},
    ),
    (
        OPERATORS,
        {"FileName": [{"suffix": ".png"}]},
        {"FileName": "image.png"},
        {"FileName": "image.PNG"},
    ),
    (
        OPERATORS,  # suffix matching while ignoring case
        {"detail": {"FileName": [{"suffix": {"equals-ignore-case": ".png"}}]}},
        {"detail": {"FileName": "IMAGE.PNG"}},
        {"detail": {"FileName": "image.jpg"}},
    ),
    (OPERATORS, {"Name": [{"equals-ignore-case": "alice"}]}, {"Name": "ALICE"}, {"Name": "Alicia"}),
    (
        OPERATORS,  # any file with a .png extension, located within the folder "dir"
        {"FileName": [{"wildcard": "dir/*.png"}]},
        {"FileName": "dir/photo.png"},
        {"FileName": "other/photo.png"},
    ),
    (
        OPERATORS,
        {"detail": {"state": [{"anything-but": "initializing"}]}},
        {"detail": {"state": "running"}},
        {"detail": {"state": "initializing"}},
    ),
    (
        OPERATORS,
        {"detail": {"x-limit": [{"anything-but": 123}]}},
        {"detail": {"x-limit": 124}},
        {"detail": {"x-limit": 123}},
    ),
    (
        OPERATORS,
        {"detail": {"state": [{"anything-but": ["stopped", "overloaded"]}]}},
        {"detail": {"state": "running"}},
        {"detail": {"state": "overloaded"}},
    ),
    (
        OPERATORS,
        {"detail": {"x-limit": [{"anything-but": [100, 200, 300]}]}},
        {"detail": {"x-limit": 150}},
        {"detail": {"x-limit": 200}},
    ),
    (
        OPERATORS,
        {"Weather": [{"anything-but": ["Raining"]}]},
        {"Weather": "Sunny"},
        {"Weather": "Raining"},
    ),
    (
        OPERATORS,  # anything-but (begins with): not in the US
        {"Region": [{"anything-but": {"prefix": "us-"}}]},
        {"Region": "eu-west-1"},
        {"Region": "us-east-1"},
    ),
    (
        OPERATORS,
        {"detail": {"state": [{"anything-but": {"prefix": "init"}}]}},
        {"detail": {"state": "running"}},
        {"detail": {"state": "initializing"}},
    ),
    (
        OPERATORS,  # anything-but (ends with)
        {"FileName": [{"anything-but": {"suffix": ".png"}}]},
        {"FileName": "photo.jpg"},
        {"FileName": "photo.png"},
    ),
    (
        OPERATORS,  # anything-but (ignore case)
        {"state": [{"anything-but": {"equals-ignore-case": "initializing"}}]},
        {"state": "running"},
        {"state": "INITIALIZING"},
    ),
    (
        OPERATORS,  # anything-but using a wildcard: not a path that includes /lib/
        {"FilePath": [{"anything-but": {"wildcard": "*/lib/*"}}]},
        {"FilePath": "/usr/bin/tool"},
        {"FilePath": "/usr/lib/tool"},
    ),
    (OPERATORS, NUMERIC, RULER_EVENT, changed(RULER_EVENT, **{"c-count": 0})),
    (OPERATORS, {"Price": [{"numeric": ["=", 100]}]}, {"Price": 100.0}, {"Price": 100.5}),
    (OPERATORS, {"Price": [{"numeric": [">", 10, "<=", 20]}]}, {"Price": 20}, {"Price": 10}),
    (
        OPERATORS,  # IP addresses from 10.0.0.0 to 10.0.0.255
        {"detail": {"sourceIPAddress": [{"cidr": "10.0.0.0/24"}]}},
        {"detail": {"sourceIPAddress": "10.0.0.255"}},
        {"detail": {"sourceIPAddress": "10.0.1.1"}},
    ),
    (
        OPERATORS,  # "IP address matching ... for IPv4 and IPv6 addresses" (addresses ours)
        {"detail": {"sourceIPAddress": [{"cidr": "2001:db8::/32"}]}},
        {"detail": {"sourceIPAddress": "2001:db8::1"}},
        {"detail": {"sourceIPAddress": "2001:db9::1"}},
    ),
    (
        OPERATORS,  # exists: true matches an event with a detail.state field...
        {"detail": {"state": [{"exists": True}]}},
        changed(EC2_EVENT, state="pending"),
        # ...and not this one, which has none
        {"detail": {"c-count": {"c1": 100}}},
    ),
    (
        OPERATORS,  # exists: false; c-count is an object, not a leaf, so it does not exist
        {"detail": {"c-count": [{"exists": False}]}},
        {"detail": {"state": ["initializing", "running"], "c-count": {"c1": 100}}},
        {"detail": {"c-count": 5}},
    ),
    (OPERATORS, {"ProductName": [{"exists": True}]}, {"ProductName": "Widget"}, {"Price": 3}),
    (OPERATORS, {"ProductName": [{"exists": False}]}, {"Price": 3}, {"ProductName": "Widget"}),
    (OPERATORS, {"UserID": [None]}, {"UserID": None}, {"UserID": "u-1"}),
    (OPERATORS, {"LastName": [""]}, {"LastName": ""}, {"LastName": None}),
    (
        OPERATORS,  # And
        {"Location": ["New York"], "Day": ["Monday"]},
        {"Location": "New York", "Day": "Monday"},
        {"Location": "New York", "Day": "Tuesday"},
    ),
    (
        OPERATORS,  # Or, within one field
        {"PaymentType": ["Credit", "Debit"]},
        {"PaymentType": "Debit"},
        {"PaymentType": "Cash"},
    ),
    (
        OPERATORS,  # Or, across fields ($or)
        {"$or": [{"Location": ["New York"]}, {"Day": ["Monday"]}]},
        {"Location": "Boston", "Day": "Monday"},
        {"Location": "Boston", "Day": "Tuesday"},
    ),
    (
        OPERATORS,  # $or over the numeric fields of the numeric example
        {
            "detail": {
                "$or": [
                    {"c-count": [{"numeric": [">", 0, "<=", 5]}]},
                    {"d-count": [{"numeric": ["<", 10]}]},
                    {"x-limit": [{"numeric": ["=", 3.018e2]}]},
                ]
            }
        },
        {"detail": {"c-count": 0, "d-count": 20, "x-limit": 301.8}},
        {"detail": {"c-count": 0, "d-count": 20, "x-limit": 300}},
    ),
    (
        OPERATORS,  # complex example combining prefix, anything-but and numeric
        {
            "time": [{"prefix": "2017-10-02"}],
            "detail": {
                "state": [{"anything-but": "initializing"}],
                "c-count": [{"numeric": [">", 0, "<=", 5]}],
                "d-count": [{"numeric": ["<", 10]}],
                "x-limit": [{"anything-but": [100, 200, 300]}],
            },
        },
        RULER_EVENT,
        changed(RULER_EVENT, state="initializing"),
    ),
]


@pytest.mark.parametrize(("page", "pattern", "good", "bad"), EXAMPLES)
def test_documented_example(
    page: str, pattern: dict[str, Any], good: dict[str, Any], bad: dict[str, Any]
) -> None:
    validate_pattern(pattern)
    assert matches(pattern, good), page
    assert not matches(pattern, bad), page


# (page, pattern, words of the refusal); each a limit the documentation states
REFUSED: list[tuple[str, dict[str, Any], str]] = [
    # "lists that contain only strings, or only numbers"
    (OPERATORS, {"x": [{"anything-but": ["stopped", 100]}]}, "only strings or only numbers"),
    # anything-but works "with strings and numeric values"
    (OPERATORS, {"x": [{"anything-but": True}]}, "strings and numbers only, got true"),
    (OPERATORS, {"x": [{"anything-but": None}]}, "strings and numbers only, got null"),
    (OPERATORS, {"x": [{"anything-but": [None]}]}, "got null"),
    # "Anything-but matching only works with a single prefix, not a list"
    (OPERATORS, {"x": [{"anything-but": {"prefix": ["a", "b"]}}]}, "anything-but.prefix"),
    # numeric matching "is limited to values between -5.0e9 and +5.0e9 inclusive"
    (OPERATORS, {"x": [{"numeric": [">", 5.1e9]}]}, "outside the range"),
    (OPERATORS, {"x": [{"numeric": ["<", -6e9]}]}, "outside the range"),
    # wildcards: consecutive wildcard characters are not supported; a backslash escapes only
    # '*' and '\'
    (OPERATORS, {"x": [{"wildcard": "a**b"}]}, "consecutive wildcard"),
    (OPERATORS, {"x": [{"wildcard": "a\\b"}]}, "may only escape"),
    (OPERATORS, {"x": [{"cidr": "10.0.0.300/24"}]}, "not an IPv4 or IPv6 CIDR"),
    (OPERATORS, {"x": [{"exists": "yes"}]}, "true or false"),
    (OPERATORS, {"$or": [{"x": ["a"]}]}, "at least two"),
    (OPERATORS, {"x": [{"prefix": {"wildcard": "a*"}}]}, "equals-ignore-case"),
    (EVENT_PATTERNS, {"source": []}, "empty"),
]


@pytest.mark.parametrize(("page", "pattern", "words"), REFUSED)
def test_documented_limits_are_refused(page: str, pattern: dict[str, Any], words: str) -> None:
    with pytest.raises(ConfigError) as caught:
        validate_pattern(pattern)
    message = caught.value.message
    assert words in message, page
    assert message.startswith("event pattern pattern.") and message.count(". ") == 0


def test_numeric_bounds_at_the_limit_are_accepted() -> None:
    validate_pattern({"x": [{"numeric": [">=", -5.0e9, "<=", 5.0e9]}]})
    assert matches({"x": [{"numeric": [">=", -5.0e9, "<=", 5.0e9]}]}, {"x": 5.0e9})


def test_json_value_semantics() -> None:
    # "The values that event patterns match follow JSON rules": true is not 1, null is not "".
    assert not matches({"flag": [1]}, {"flag": True})
    assert not matches({"flag": [True]}, {"flag": 1})
    assert not matches({"note": [""]}, {"note": None})
    assert not matches({"count": ["3"]}, {"count": 3})
    # the numeric matcher compares values, exact matching compares text
    assert matches({"n": [{"numeric": ["=", 300]}]}, {"n": 300.0})
    assert not matches({"n": [300]}, {"n": 300.0})


def test_arrays_match_when_any_element_matches() -> None:
    event = {"detail": {"tags": ["prod", "churn"], "hosts": [{"name": "a"}, {"name": "b"}]}}
    assert matches({"detail": {"tags": [{"suffix": "urn"}]}}, event)
    assert matches({"detail": {"tags": [{"anything-but": "prod"}]}}, event)
    assert matches({"detail": {"hosts": {"name": [{"wildcard": "b"}]}}}, event)
    assert not matches({"detail": {"tags": [{"prefix": "stag"}]}}, event)
