variable "region" {
  description = "AWS Region to deploy into."
  type        = string
  nullable    = false
}

variable "execution_api_server_url" {
  description = "Execution API URL of the Airflow API server, as the tasks reach it."
  type        = string
  nullable    = false
}
