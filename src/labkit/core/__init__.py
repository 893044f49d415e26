"""The core every other package builds on: the metric declaration (and, as the plug-in
design grows, errors, registries and the typed run record). Imports nothing of labkit
above it."""
