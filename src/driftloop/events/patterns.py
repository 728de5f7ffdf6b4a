"""EventBridge event patterns: validate them, then test events against them.

A pattern is an object whose keys name event fields. A key maps either to a nested pattern (for a
nested object) or to a list of allowed values (OR). Every key must match (AND); ``"$or": [{...},
{...}]`` matches when any of its patterns does. An empty pattern matches every event. When the
event holds an array, the pattern matches if any element does.

Allowed values are exact JSON values (``true`` is not ``1``, ``null`` is not ``""``, and numbers
compare by their text: ``300`` is not ``300.0``) or one-key matchers, as EventBridge documents::

    {"prefix": "ALA"} / {"prefix": {"equals-ignore-case": "ala"}}
    {"suffix": ".png"} / {"suffix": {"equals-ignore-case": ".PNG"}}
    {"equals-ignore-case": "alarm"}
    {"wildcard": "dir/*.png"}                ("\\*" is a literal star)
    {"anything-but": "OK"} / {"anything-but": ["OK", "INSUFFICIENT_DATA"]} / {"anything-but": 5}
    {"anything-but": {"prefix": "test-"}}    (also suffix, equals-ignore-case, wildcard)
    {"numeric": [">", 0, "<=", 5]}           (bounds within -5.0e9 .. +5.0e9)
    {"cidr": "10.0.0.0/24"}                  (IPv4 or IPv6)
    {"exists": true} / {"exists": false}     (leaf fields only: an object does not exist)

Events are parsed JSON, so ``300.0`` and ``3.0e2`` in an event read the same.
"""

from __future__ import annotations

from driftloop.events.pattern_checks import validate_pattern
from driftloop.events.pattern_match import matches

__all__ = ["matches", "validate_pattern"]
