//! Link settings of the native library; writes nothing into the source tree.

fn main() {
    let os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    if os == "linux" {
        // The library names itself `libcertless.so` (ELF SONAME). A host that loaded it from a full
        // path (the .NET wrapper finding it in an ASP.NET application's bin/, which Mono does not
        // search for P/Invoke) then has `dlopen("libcertless.so")` answered with that very copy.
        println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,libcertless.so");
    }
    println!("cargo:rerun-if-changed=build.rs");
}
