//! placeholder: owned by the KMS work
