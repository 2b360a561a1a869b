"""A small client for backends and people: upload a submission and its tests, create the
Evaluation, wait for the verdict, fetch the outputs (`gavel submit`, `gavel status`, `gavel fetch`)."""
