# ---------------------------------------------------------------------------
# The run
# ---------------------------------------------------------------------------

variable "name_prefix" {
  type        = string
  description = "Prefix for every resource name (IAM roles, security groups, instances, default bucket name)."
  default     = "surge"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{0,15}$", var.name_prefix))
    error_message = "name_prefix must be 1-16 characters: lower-case letters, digits and '-', starting with a letter."
  }
}

variable "run_id" {
  type        = string
  description = "Identifier of this run. Results go to s3://<bucket>/runs/<run_id>/ and the instances' IAM write access is limited to that prefix, so every run gets its own id."

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9-]{0,31}$", var.run_id))
    error_message = "run_id must be 1-32 characters: lower-case letters, digits and '-', not starting with '-'."
  }
}

variable "schedule_key" {
  type        = string
  description = "S3 key of the schedule every agent runs, e.g. \"schedules/black-friday.yaml\" (upload it with `surge schedule push`, or let the module upload schedule_file)."

  validation {
    condition     = can(regex("^schedules/[A-Za-z0-9._-]+\\.ya?ml$", var.schedule_key))
    error_message = "schedule_key must look like \"schedules/<name>.yaml\" (letters, digits, '.', '_', '-')."
  }
}

variable "schedule_file" {
  type        = string
  description = "Optional local schedule file the module uploads to schedule_key before the instances start: the one-apply path when the module creates the bucket. Validate it first (`surge schedule validate` / `push`); null means you push it yourself."
  default     = null
}

variable "poweroff_when_done" {
  type        = bool
  description = "Instances power off when their agent exits (SURGE_POWEROFF). Stopped on-demand instances cost only their volumes; spot workers terminate."
  default     = true
}

variable "worker_processes" {
  type        = string
  description = "Locust worker processes per worker instance (SURGE_WORKER_PROCESSES): \"auto\" = one per vCPU, or a positive number."
  default     = "auto"

  validation {
    condition     = var.worker_processes == "auto" || can(regex("^[1-9][0-9]*$", var.worker_processes))
    error_message = "worker_processes must be \"auto\" or a positive integer."
  }
}

# ---------------------------------------------------------------------------
# Storage
# ---------------------------------------------------------------------------

variable "create_bucket" {
  type        = bool
  description = "Create the schedules/results bucket. Set false and give bucket_name to use a long-lived bucket that outlives the fleet (recommended for repeated runs)."
  default     = true
}

variable "bucket_name" {
  type        = string
  description = "Bucket name. Required when create_bucket is false; when null and creating, \"<name_prefix>-<account id>-<region>\"."
  default     = null

  validation {
    condition     = var.create_bucket || var.bucket_name != null
    error_message = "bucket_name is required when create_bucket is false."
  }

  validation {
    condition     = var.bucket_name == null ? true : can(regex("^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", var.bucket_name))
    error_message = "bucket_name must be a valid S3 bucket name (3-63 lower-case letters, digits, '.', '-')."
  }
}

variable "bucket_force_destroy" {
  type        = bool
  description = "Let `terraform destroy` delete a created bucket that still holds schedules and results. Off by default: fetch results first."
  default     = false
}

variable "results_expiration_days" {
  type        = number
  description = "Days after which objects under runs/ expire (current and noncurrent versions) in a created bucket."
  default     = 30

  validation {
    condition     = var.results_expiration_days >= 1 && floor(var.results_expiration_days) == var.results_expiration_days
    error_message = "results_expiration_days must be a whole number of days, at least 1."
  }
}

variable "kms_key_arn" {
  type        = string
  description = "Optional KMS key for bucket encryption (SSE-KMS); the instance roles get GenerateDataKey/Decrypt on it. null = SSE-S3 (AES-256)."
  default     = null
}

# ---------------------------------------------------------------------------
# Network
# ---------------------------------------------------------------------------

variable "vpc_id" {
  type        = string
  description = "VPC for the fleet. null = the region's default VPC (quick start)."
  default     = null
}

variable "subnet_ids" {
  type        = list(string)
  description = "Subnets for the fleet (workers round-robin over them, the master uses the first). Empty = the default subnets of the VPC. The subnets need a route to the target, S3 and SSM (internet gateway, NAT or endpoints)."
  default     = []
  validation {
    condition     = length(var.subnet_ids) == 0 || var.vpc_id != null
    error_message = "subnet_ids need vpc_id (the security groups live in the subnets' VPC)."
  }
}

variable "associate_public_ip" {
  type        = bool
  description = "Give instances a public IPv4 address so they reach the target, S3 and SSM from public subnets (as in the default VPC). No ingress is opened by it. Set false in private subnets with NAT or VPC endpoints."
  default     = true
}

variable "operator_cidrs" {
  type        = list(string)
  description = "CIDRs allowed to reach the master's web UI (tcp/8089). Empty by default: use the SSM port-forward command from the outputs. 0.0.0.0/0 and ::/0 are refused."
  default     = []

  validation {
    condition     = alltrue([for cidr in var.operator_cidrs : can(cidrhost(cidr, 0))])
    error_message = "operator_cidrs must be CIDR blocks, e.g. \"203.0.113.7/32\"."
  }

  validation {
    condition     = alltrue([for cidr in var.operator_cidrs : !contains(["0.0.0.0/0", "::/0"], cidr)])
    error_message = "operator_cidrs must not contain 0.0.0.0/0 or ::/0: the UI can start and stop load. Use your own address or SSM port forwarding."
  }
}

variable "ui_password_parameter" {
  type        = string
  description = "SSM parameter (SecureString) holding the web UI's login password, e.g. \"/surge/ui-password\"; required with operator_cidrs. Only the master may read it, at start; the password is never in user data, S3 or the results. The user name is \"surge\"."
  default     = null

  validation {
    condition     = var.ui_password_parameter == null ? true : can(regex("^/[A-Za-z0-9_.\\-/]+$", var.ui_password_parameter))
    error_message = "ui_password_parameter must be an absolute SSM parameter name such as \"/surge/ui-password\"."
  }

  validation {
    condition     = length(var.operator_cidrs) == 0 || var.ui_password_parameter != null
    error_message = "operator_cidrs opens the web UI to a network: set ui_password_parameter to the SSM parameter holding its login password."
  }
}

variable "metrics_cidrs" {
  type        = list(string)
  description = "CIDRs allowed to scrape the master's Prometheus metrics (tcp/9646, /metrics). Empty by default: the master serves them on loopback only (SSM port forward: metrics_port_forward_command). 0.0.0.0/0 and ::/0 are refused."
  default     = []

  validation {
    condition     = alltrue([for cidr in var.metrics_cidrs : can(cidrhost(cidr, 0))])
    error_message = "metrics_cidrs must be CIDR blocks, e.g. \"10.20.0.0/16\"."
  }

  validation {
    condition     = alltrue([for cidr in var.metrics_cidrs : !contains(["0.0.0.0/0", "::/0"], cidr)])
    error_message = "metrics_cidrs must not contain 0.0.0.0/0 or ::/0: name your monitoring network."
  }
}

variable "target_ports" {
  type        = list(number)
  description = "TCP ports the workers send load to (egress)."
  default     = [80, 443]

  validation {
    condition     = alltrue([for port in var.target_ports : port >= 1 && port <= 65535 && floor(port) == port])
    error_message = "target_ports must be TCP port numbers (1-65535)."
  }
}

variable "target_cidrs" {
  type        = list(string)
  description = "Where the workers may send load (egress on target_ports). Narrow it to the system under test when you know its addresses. HTTPS to anywhere stays open for S3, STS and SSM."
  default     = ["0.0.0.0/0"]

  validation {
    condition     = length(var.target_cidrs) > 0 && alltrue([for cidr in var.target_cidrs : can(cidrhost(cidr, 0))])
    error_message = "target_cidrs must be a non-empty list of CIDR blocks."
  }
}

# ---------------------------------------------------------------------------
# Fleet
# ---------------------------------------------------------------------------

variable "worker_count" {
  type        = number
  description = "Number of worker instances. null = size from target_rps with the sizing rule (see README)."
  default     = null

  validation {
    condition     = var.worker_count == null ? true : (var.worker_count >= 1 && var.worker_count <= 500 && floor(var.worker_count) == var.worker_count)
    error_message = "worker_count must be a whole number from 1 to 500."
  }
}

variable "target_rps" {
  type        = number
  description = "Peak request rate of the schedule, used to size the fleet when worker_count is null."
  default     = null

  validation {
    condition     = var.target_rps == null ? true : var.target_rps > 0
    error_message = "target_rps must be positive."
  }
}

variable "rps_per_vcpu" {
  type        = number
  description = "Requests per second one vCPU of a worker sustains (keep-alive). Default: surge's measured one-core capacity over HTTPS, 5,345 req/s in benchmarks/RESULTS.md (benchmark 6; 6,014 over HTTP), rounded down; re-measure with your scenario on your instance type."
  default     = 5000

  validation {
    condition     = var.rps_per_vcpu > 0
    error_message = "rps_per_vcpu must be positive."
  }
}

variable "sizing_headroom" {
  type        = number
  description = "Extra capacity planned on top of target_rps: 0.5 means the fleet can do 1.5 x target_rps, so generators stay far from saturation."
  default     = 0.5

  validation {
    condition     = var.sizing_headroom >= 0 && var.sizing_headroom <= 4
    error_message = "sizing_headroom must be between 0 and 4."
  }
}

variable "master_instance_type" {
  type        = string
  description = "Instance type of the master (one Locust master process, report building). Compute-optimized, never burstable: a throttled generator reports wrong numbers."
  default     = "c6i.large"
}

variable "worker_instance_type" {
  type        = string
  description = "Instance type of the workers (one Locust worker process per vCPU)."
  default     = "c6i.large"
}

variable "worker_spot" {
  type        = bool
  description = "Run workers as one-time spot instances (cheaper; an interrupted worker is recorded as lost in the manifest)."
  default     = false
}

variable "spot_max_price" {
  type        = string
  description = "Maximum hourly spot price for workers; null = the on-demand price."
  default     = null
}

variable "root_volume_size_gb" {
  type        = number
  description = "Root volume size (GiB, gp3, encrypted) of every instance; parts are uploaded as written, so little local space is needed."
  default     = 16

  validation {
    condition     = var.root_volume_size_gb >= 8 && var.root_volume_size_gb <= 1024
    error_message = "root_volume_size_gb must be between 8 and 1024."
  }
}

variable "detailed_monitoring" {
  type        = bool
  description = "1-minute CloudWatch metrics for every instance: CPU graphs during the run back up surge's own saturation checks (about $0.003 per instance-hour)."
  default     = true
}

variable "enable_ssm" {
  type        = bool
  description = "Attach AmazonSSMManagedInstanceCore so Session Manager works: shells for debugging and port forwarding to the UI without opening ports."
  default     = true
}

variable "secret_parameter_paths" {
  type        = list(string)
  description = "SSM Parameter Store paths the fleet may read for the schedule's scenario.secrets (ssm:/path), e.g. [\"/shop/loadtest/*\"]; a trailing '*' matches everything below. Every other parameter is denied, even with enable_ssm. Empty: no parameter at all."
  default     = []

  validation {
    condition     = alltrue([for p in var.secret_parameter_paths : can(regex("^/[A-Za-z0-9_.\\-/]*[*]?$", p))])
    error_message = "secret_parameter_paths must be absolute SSM parameter paths such as \"/shop/api-token\" or \"/shop/loadtest/*\"."
  }
}

# ---------------------------------------------------------------------------
# AMI (built by packer/, see its manifest)
# ---------------------------------------------------------------------------

variable "ami_id" {
  type        = string
  description = "The surge AMI id. Takes precedence over ami_manifest_path and the name lookup."
  default     = null

  validation {
    condition     = var.ami_id == null ? true : can(regex("^ami-[0-9a-f]+$", var.ami_id))
    error_message = "ami_id must look like \"ami-0123456789abcdef0\"."
  }
}

variable "ami_manifest_path" {
  type        = string
  description = "Path to Packer's manifest (packer/manifest.json): the AMI of the last build for this region is used. Ignored when ami_id is set."
  default     = null
}

variable "ami_name_filter" {
  type        = string
  description = "Name pattern for the AMI lookup used when neither ami_id nor ami_manifest_path is set (the most recent match wins)."
  default     = "surge-*"
}

variable "ami_owners" {
  type        = list(string)
  description = "Owners for the AMI lookup (\"self\" = this account)."
  default     = ["self"]
}

variable "ami_tags" {
  type        = map(string)
  description = "Tags the looked-up AMI must carry, e.g. { \"surge:version\" = \"0.1.0\" }."
  default     = {}
}

variable "tags" {
  type        = map(string)
  description = "Tags added to every resource."
  default     = {}
}
