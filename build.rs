//! `embed_migrations!` reads `migrations/` at compile time, and `hub migrate` embeds every
//! file under `sql/` (src/db/sql_files.rs): without the rerun lines below a new migration or
//! a changed SQL function would not rebuild the crate and the binary would silently lack it.
//! (Cargo scans a directory named here for changes to any file below it.)

use std::{
    fs,
    path::{Path, PathBuf},
};

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed=migrations");
    println!("cargo:rerun-if-changed=sql");

    let root = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap()).join("sql");
    let mut files = Vec::new();
    collect(&root, &mut files);
    // Applied in this order: by path, so that it never depends on the file system.
    files.sort();
    let mut out = String::from(
        "/// Every file under sql/, by path: (path relative to sql/, text).\n\
         pub const SQL_FILES: &[(&str, &str)] = &[\n",
    );
    for file in &files {
        let relative = file.strip_prefix(&root).unwrap().to_str().unwrap();
        let relative = relative.replace('\\', "/");
        out.push_str(&format!(
            "    ({relative:?}, include_str!({:?})),\n",
            file.to_str().unwrap()
        ));
    }
    out.push_str("];\n");
    let dest = PathBuf::from(std::env::var("OUT_DIR").unwrap()).join("sql_files.rs");
    fs::write(dest, out).unwrap();
}

fn collect(dir: &Path, files: &mut Vec<PathBuf>) {
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            collect(&path, files);
        } else if path.extension().is_some_and(|e| e == "sql") {
            files.push(path);
        }
    }
}
