"""Language definitions as data: each YAML file here is one Language."""
