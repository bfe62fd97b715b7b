variable "region" {
  description = "AWS Region of the existing VPC."
  type        = string
  nullable    = false
}

variable "vpc_id" {
  description = "Existing VPC."
  type        = string
  nullable    = false
}

variable "subnet_ids" {
  description = "Existing private subnets (two or more AZs) with a way out to AWS APIs."
  type        = list(string)
  nullable    = false
}

variable "airflow_api_cidr" {
  description = "CIDR block of the Airflow API server the tasks call on port 8080."
  type        = string
  nullable    = false
}

variable "execution_api_server_url" {
  description = "Execution API URL of the Airflow API server, e.g. http://10.0.1.10:8080/execution/."
  type        = string
  nullable    = false
}

variable "image" {
  description = "Worker image already pushed somewhere the execution role can pull from, e.g. <registry>/airflow-worker:1.0.0."
  type        = string
  nullable    = false
}
