project = "gale"
version = "1.3"
release = "1.3.1.dev0"
extensions = []
