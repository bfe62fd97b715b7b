# The root module as `make plan` / `make apply` run it: the Region and the tags every resource gets. The
# examples call this directory as a module and pass region and tags; this block then configures the AWS
# provider inside it (so a caller cannot use count/for_each on it: one deployment per module call).
provider "aws" {
  region = var.region

  default_tags {
    tags = var.tags
  }
}
