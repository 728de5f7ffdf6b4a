# Terraform module of driftloop's AWS resources, written by `driftloop infra render`
# from driftloop.toml: change the config and render again rather than editing this file.

variable "region" {
  description = "AWS region of the resources (aws.region)"
  type        = string
  default     = "us-east-1"
}

variable "ops_email" {
  description = "Email address subscribed to topic ops (it confirms once)"
  type        = string
  default     = "oncall@example.com"

  validation {
    condition     = can(regex("^[^@\\s]+@[^@\\s]+$", var.ops_email))
    error_message = "ops_email must match [^@\\s]+@[^@\\s]+."
  }
}
