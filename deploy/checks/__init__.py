"""The offline checks of `make k8s-check` (`python -m deploy.checks`): schemas, our pod rules, wiring, traffic,
monitoring, runbooks, settings, Dockerfiles and image imports, each against the rendered manifests or the tree."""
