"""Deployment: container images, Kubernetes manifests (kustomize) and their offline checks (`make k8s-check`)."""
