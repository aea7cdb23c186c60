output "master_private_ip" {
  description = "Private address of the master (what the workers connect to)."
  value       = aws_instance.master.private_ip
}

output "master_public_ip" {
  description = "Public address of the master, if it has one (used only for the UI from operator_cidrs)."
  value       = aws_instance.master.public_ip
}

output "master_instance_id" {
  description = "Instance id of the master."
  value       = aws_instance.master.id
}

output "worker_instance_ids" {
  description = "Instance ids of the workers."
  value       = aws_instance.worker[*].id
}

output "worker_count" {
  description = "Number of workers launched (given, or sized from target_rps)."
  value       = local.worker_count
}

output "ui_url" {
  description = "The master's web UI when operator_cidrs opens it; null otherwise (use ui_port_forward_command)."
  value       = length(var.operator_cidrs) > 0 && aws_instance.master.public_ip != "" ? "http://${aws_instance.master.public_ip}:${local.locust_ui_port}" : null
}

output "ui_port_forward_command" {
  description = "Reach the UI on http://localhost:8089 through SSM Session Manager, without opening a port."
  value       = var.enable_ssm ? "aws ssm start-session --region ${local.region} --target ${aws_instance.master.id} --document-name AWS-StartPortForwardingSession --parameters '{\"portNumber\":[\"${local.locust_ui_port}\"],\"localPortNumber\":[\"${local.locust_ui_port}\"]}'" : null
}

output "metrics_url" {
  description = "The master's Prometheus metrics when metrics_cidrs opens them (private address: scrape from inside the VPC); null otherwise."
  value       = length(var.metrics_cidrs) > 0 ? "http://${aws_instance.master.private_ip}:${local.metrics_port}/metrics" : null
}

output "metrics_port_forward_command" {
  description = "Reach the master's metrics on http://localhost:9646/metrics through SSM Session Manager."
  value       = var.enable_ssm ? "aws ssm start-session --region ${local.region} --target ${aws_instance.master.id} --document-name AWS-StartPortForwardingSession --parameters '{\"portNumber\":[\"${local.metrics_port}\"],\"localPortNumber\":[\"${local.metrics_port}\"]}'" : null
}

output "bucket" {
  description = "Bucket holding schedules and results."
  value       = local.bucket_name
}

output "schedule_url" {
  description = "Where the agents read the schedule."
  value       = "s3://${local.bucket_name}/${var.schedule_key}"
}

output "run_prefix" {
  description = "Where this run's results go."
  value       = "s3://${local.bucket_name}/${local.run_prefix}"
}

output "schedule_push_command" {
  description = "Validate and upload the schedule this fleet runs (before apply, or use schedule_file)."
  value       = "surge schedule push SCHEDULE.yaml s3://${local.bucket_name}/${var.schedule_key}"
}

output "fetch_command" {
  description = "Download this run's results."
  value       = "surge fetch s3://${local.bucket_name}/${trimsuffix(local.run_prefix, "/")} runs/${var.run_id}"
}

output "abort_command" {
  description = "Stop the load on every generator within seconds (writes the stop object)."
  value       = "surge abort s3://${local.bucket_name}/${trimsuffix(local.run_prefix, "/")}"
}

output "sizing" {
  description = "How worker_count was chosen (null fields when worker_count was given)."
  value = {
    target_rps           = var.target_rps
    rps_per_vcpu         = var.rps_per_vcpu
    headroom             = var.sizing_headroom
    worker_vcpus         = local.worker_vcpus
    planned_capacity_rps = local.planned_capacity_rps
    worker_count         = local.worker_count
  }
}
