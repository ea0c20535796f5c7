//! The plan of volumes from images, on libvirt's test driver: the create
//! carries its source (format and size are apply's to read: the planner
//! opens neither the file nor the network, so a path that does not exist
//! here plans all the same), and an overlay on it waits for it.

mod common;

use common::{load, manifest_dir, Lab};
use virtsync::plan::{render_text, Step};

const API: &str = "apiVersion: virtsync.io/v1alpha1";

#[test]
fn an_image_volume_plans_an_upload_with_its_source_and_an_overlay_after_it() {
    let pool =
        format!("{API}\nkind: StoragePool\nmetadata: {{name: default-pool, external: true}}\n");
    let base = format!(
        "{API}\nkind: Volume\nmetadata: {{name: base.qcow2}}\nspec:\n  pool: default-pool\n  source:\n    url: https://images.example/debian-12.qcow2\n    sha256: {}\n",
        "ab".repeat(32)
    );
    let local = format!(
        "{API}\nkind: Volume\nmetadata: {{name: local.img}}\nspec:\n  pool: default-pool\n  capacity: 2GiB\n  source: {{path: /nonexistent/disk.img}}\n"
    );
    let root = format!(
        "{API}\nkind: Volume\nmetadata: {{name: root.qcow2}}\nspec:\n  pool: default-pool\n  capacity: 10GiB\n  backingStore: {{name: base.qcow2}}\n"
    );
    let dir = manifest_dir(&[
        ("pool.yaml", &pool),
        ("base.yaml", &base),
        ("local.yaml", &local),
        ("root.yaml", &root),
    ]);
    let desired = load(dir.path());
    let lab = Lab::connect(&desired, "test:///default");
    let planned = lab.plan(&desired);
    let p = &planned.plan;
    insta::assert_snapshot!(render_text(p));
    let upload = p
        .actions
        .iter()
        .find(|a| a.name == "default-pool/base.qcow2")
        .expect("the image volume is created");
    match &upload.step {
        Step::UploadVolume {
            source, capacity, ..
        } => {
            assert_eq!(source.location, "https://images.example/debian-12.qcow2");
            assert_eq!(capacity, &None);
        }
        other => panic!("not an upload: {other:?}"),
    }
    let json = serde_json::to_value(upload).unwrap();
    assert_eq!(json["step"]["type"], "upload-volume");
    assert_eq!(json["operation"], "create-volume");
    let overlay = p
        .actions
        .iter()
        .find(|a| a.name == "default-pool/root.qcow2")
        .expect("the overlay is created");
    assert!(
        overlay.depends_on.contains(&upload.id),
        "{:?}",
        overlay.depends_on
    );
}
