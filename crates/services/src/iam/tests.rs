//! IAM tests.
