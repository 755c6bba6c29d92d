//! napi-rs's link set-up for a Node addon.

fn main() {
    napi_build::setup();
}
