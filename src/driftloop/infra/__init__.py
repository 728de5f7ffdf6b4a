"""Infrastructure as code: the AWS resources driftloop's aws backend uses, described once from
the settings (:mod:`driftloop.infra.stack`) and written as a CloudFormation template and a
Terraform module (``driftloop infra render``)."""
