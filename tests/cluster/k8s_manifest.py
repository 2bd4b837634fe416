#!/usr/bin/python3
"""Checks tools/k8s/canary-job.yaml: well-formed YAML as a template and once
filled in, and wired as README says: a headless Service named like the Job,
pod 0 the controller, the workers reaching it by the name the Service gives.
Usage: k8s_manifest.py MANIFEST"""
import re
import string
import sys

import yaml

template = open(sys.argv[1]).read()
values = {"JOB": "kmeans", "PODS": "5", "IMAGE": "registry.example/kmeans:1", "BINARY": "kmeans",
          "FLAGS": "--clusters=8"}
filled = string.Template(template).safe_substitute(values)  # envsubst with the listed names
problems = []
for text in (template, filled):
    docs = list(yaml.safe_load_all(text))
    if len(docs) != 2:
        problems.append(f"expected a Service and a Job, got {len(docs)} documents")
docs = list(yaml.safe_load_all(filled))
service, job = docs
expect = [
    (service["kind"] == "Service", "the first document is a Service"),
    (service["spec"]["clusterIP"] == "None", "the Service is headless"),
    (service["spec"]["selector"] == {"job-name": "kmeans"}, "the Service selects the Job's pods"),
    (job["kind"] == "Job" and job["apiVersion"] == "batch/v1", "the second is a batch/v1 Job"),
    (job["spec"]["completionMode"] == "Indexed", "the Job is Indexed"),
    (job["spec"]["completions"] == job["spec"]["parallelism"] == 5, "every pod runs at once"),
    (job["spec"]["template"]["spec"]["subdomain"] == service["metadata"]["name"], "the pods' subdomain is the Service"),
]
script = job["spec"]["template"]["spec"]["containers"][0]["args"][0]
expect += [
    ('"$JOB_COMPLETION_INDEX" = 0' in script, "pod 0 is the controller"),
    ("--expect $((5 - 1))" in script, "the controller waits for the other pods"),
    ("--controller tcp://kmeans-0.kmeans:7100" in script, "workers reach pod 0 by its stable name"),
    ("--clusters=8" in script, "the job's flags reach the controller"),
    (not re.search(r"\$\{(JOB|PODS|IMAGE|BINARY|FLAGS)\}", filled), "every template variable is filled in"),
]
problems += [what for ok, what in expect if not ok]
for p in problems:
    print("k8s manifest: not so:", p)
sys.exit(1 if problems else 0)
