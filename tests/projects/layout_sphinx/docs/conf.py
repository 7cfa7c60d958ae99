project = "gale"
version = "1.4"
release = "1.4.dev0"
extensions = []
