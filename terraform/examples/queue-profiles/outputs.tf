# The whole module as one output: its value is the object of all the root module's outputs, and
# `airflow-ecs render --dir .` reads the contract from it as from terraform/ itself.
output "airflow_ecs" {
  description = "Every output of the airflow-ecs module (cluster, task definition, network, roles, events queue, profiles)."
  value       = module.airflow_ecs
}
