//! placeholder
use crate::Response;
use ironsage_model::{Operation, ServiceModel};
/// Serializes output.
pub fn serialize_output(
    _model: &ServiceModel,
    _op: &Operation,
    _output: &serde_json::Value,
    _request_id: &str,
) -> Response {
    Response {
        status: 200,
        headers: Vec::new(),
        body: Vec::new(),
    }
}
