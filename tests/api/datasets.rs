use serde_json::{Value, json};

use crate::helpers::{TestApp, spawn_app, uuid_of};

fn names(list: &Value) -> Vec<String> {
    list["items"].as_array().unwrap().iter().map(|i| i["name"].as_str().unwrap().to_string()).collect()
}

/// Three datasets in one project, with different sizes: (name, rows, columns, description).
async fn three_datasets(app: &TestApp) -> uuid::Uuid {
    let project = app.create_project(&app.admin_key, "Listing").await;
    let files: [(&str, &str, &str); 3] = [
        ("beta", "a\n1\n2\n3\n", "weekly EXPORT of cards"),
        ("Alpha", "a,b,c\n1,2,3\n", "nothing special"),
        ("gamma", "a,b\n1,2\n3,4\n", "another export"),
    ];
    for (name, csv, description) in files {
        upload_described(app, project, name, description, csv).await;
    }
    project
}

/// Uploads `csv` as a new dataset of `project` with a name and a description.
async fn upload_described(app: &TestApp, project: uuid::Uuid, name: &str, description: &str, csv: &str) {
    let form = poem::test::TestForm::new()
        .text("project_id", project.to_string())
        .text("name", name)
        .text("description", description)
        .field(poem::test::TestFormField::bytes(csv.as_bytes().to_vec()).name("file").filename("f.csv"));
    app.post_form(&app.admin_key, "/api/datasets/upload", form).await.expect(201);
}

/// `text` percent-encoded for a query string (every byte but ASCII letters and digits).
fn query_value(text: &str) -> String {
    text.bytes()
        .map(|b| if b.is_ascii_alphanumeric() { (b as char).to_string() } else { format!("%{b:02X}") })
        .collect()
}

#[tokio::test]
async fn listing_filters_sorts_and_pages() {
    let app = spawn_app().await;
    let project = three_datasets(&app).await;
    let base = format!("/api/datasets?project_id={project}");
    let all = app.get(&app.admin_key, &base).await.expect(200);
    assert_eq!(all["total"], 3);
    assert_eq!(all["limit"], 50);
    assert_eq!(all["offset"], 0);
    assert_eq!(names(&all), ["gamma", "Alpha", "beta"], "newest first by default");
    assert_eq!(all["items"][0]["project_name"], "Listing");
    assert_eq!(all["items"][0]["rows"], 2);
    assert_eq!(all["items"][0]["columns"], 2);

    let by_name = app.get(&app.admin_key, &format!("{base}&sort_field=name&sort_direction=asc")).await.expect(200);
    assert_eq!(names(&by_name), ["Alpha", "beta", "gamma"], "names sort case-insensitively");
    let by_rows = app.get(&app.admin_key, &format!("{base}&sort_field=rows&sort_direction=desc")).await.expect(200);
    assert_eq!(names(&by_rows), ["beta", "gamma", "Alpha"]);
    let by_columns =
        app.get(&app.admin_key, &format!("{base}&sort_field=columns&sort_direction=asc")).await.expect(200);
    assert_eq!(names(&by_columns), ["beta", "gamma", "Alpha"]);
    app.get(&app.admin_key, &format!("{base}&sort_field=project_name")).await.expect(200);

    let page = app.get(&app.admin_key, &format!("{base}&sort_field=name&sort_direction=asc&limit=1&offset=1")).await;
    let page = page.expect(200);
    assert_eq!(names(&page), ["beta"]);
    assert_eq!(page["total"], 3);
    assert_eq!(page["limit"], 1);
    assert_eq!(page["offset"], 1);

    let found = app.get(&app.admin_key, &format!("{base}&search=export&sort_field=name&sort_direction=asc")).await;
    assert_eq!(names(&found.expect(200)), ["beta", "gamma"], "search is case-insensitive over descriptions");
    let found = app.get(&app.admin_key, &format!("{base}&search=ALP")).await.expect(200);
    assert_eq!(names(&found), ["Alpha"]);
    let none = app.get(&app.admin_key, &format!("{base}&search=100%25")).await.expect(200);
    assert_eq!(none["total"], 0, "LIKE wildcards in the search are literal");
}

#[tokio::test]
async fn search_finds_names_and_descriptions_in_any_script_whatever_their_case() {
    let app = spawn_app().await;
    let project = app.create_project(&app.admin_key, "Scripts").await;
    for (name, description) in [
        ("ÉCOLE Données", "inscriptions"),
        ("ΣΧΟΛΕΊΟ", "μαθητές"),
        ("Школа", "ученики"),
        ("Registre", "Relevé des ÉLÈVES"),
    ] {
        upload_described(&app, project, name, description, "a\n1\n").await;
    }
    let search = |needle: &str| {
        let path = format!(
            "/api/datasets?project_id={project}&search={}&sort_field=name&sort_direction=asc",
            query_value(needle)
        );
        let app = &app;
        async move { names(&app.get(&app.admin_key, &path).await.expect(200)) }
    };
    for needle in ["ÉCOLE", "école", "DONNÉES", "e donn"] {
        assert_eq!(search(needle).await, ["ÉCOLE Données"], "search={needle}");
    }
    for needle in ["σχολείο", "ΣΧΟΛΕΊΟ", "Σχολ"] {
        assert_eq!(search(needle).await, ["ΣΧΟΛΕΊΟ"], "search={needle}");
    }
    for needle in ["школа", "ШКОЛА", "УЧЕНИКИ"] {
        assert_eq!(search(needle).await, ["Школа"], "search={needle}");
    }
    assert_eq!(search("élèves").await, ["Registre"], "descriptions are searched the same way");
    for needle in ["ecole", "ECOLE", "eleves", "σχολειο"] {
        assert_eq!(search(needle).await, Vec::<String>::new(), "search={needle}: an accent is not ignored");
    }
    let by_name = format!("/api/datasets?project_id={project}&sort_field=name&sort_direction=asc");
    assert_eq!(
        names(&app.get(&app.admin_key, &by_name).await.expect(200)),
        ["Registre", "ÉCOLE Données", "ΣΧΟΛΕΊΟ", "Школа"],
        "names sort by their lower-case form, in code point order"
    );
}

#[tokio::test]
async fn listing_parameters_out_of_range_answer_400() {
    let app = spawn_app().await;
    for query in
        ["limit=0", "limit=501", "limit=abc", "offset=-1", "sort_field=size", "sort_direction=up", "project_id=nope"]
    {
        app.get(&app.admin_key, &format!("/api/datasets?{query}")).await.expect_error(400, "bad_request");
    }
    app.get(&app.admin_key, "/api/datasets?limit=500").await.expect(200);
}

#[tokio::test]
async fn the_detail_shows_the_first_20_rows_typed() {
    let app = spawn_app().await;
    let mut csv = String::from("n,half,label\n");
    for i in 0..25 {
        csv.push_str(&format!("{i},{},{}\n", i as f64 / 2.0, if i % 2 == 0 { "even" } else { "odd" }));
    }
    let up = app.upload_ok("Preview", csv.as_bytes()).await;
    let id = uuid_of(&up["dataset_id"]);
    let detail = app.get(&app.admin_key, &format!("/api/datasets/{id}")).await.expect(200);
    let dataset = &detail["dataset"];
    assert_eq!(dataset["id"], up["dataset_id"]);
    assert_eq!(dataset["name"], "Preview");
    assert_eq!(dataset["rows"], 25);
    assert_eq!(dataset["columns"], 3);
    assert_eq!(dataset["dataset_version_id"], up["dataset_version_id"]);
    assert_eq!(dataset["artifact_id"], up["artifact_id"]);
    let preview = detail["preview"].as_array().unwrap();
    assert_eq!(preview.len(), 20);
    assert_eq!(preview[3], json!({"n": 3, "half": 1.5, "label": "odd"}));
    assert_eq!(detail["preview_error"], Value::Null);
}

#[tokio::test]
async fn a_downloaded_csv_uploads_again_to_the_same_columns_and_values() {
    let app = spawn_app().await;
    let csv = "id,amount,when,day,ok,name\n\
               1,1.0,2025-01-02T10:00:00Z,2025-01-02,true,\"Smith, J\"\n\
               2,,2025-01-02T10:00:00.5Z,2025-01-03,,x\"y\n\
               -3,1e-7,2025-01-02T10:00:00Z,2025-01-04,false,line\n";
    let up = app.upload_ok("Roundtrip", csv.as_bytes()).await;
    let id = uuid_of(&up["dataset_id"]);
    let download = app.get(&app.admin_key, &format!("/api/datasets/{id}/download")).await;
    assert_eq!(download.status.as_u16(), 200);
    assert_eq!(download.headers["content-type"], "text/csv; charset=utf-8");
    assert_eq!(download.headers["content-disposition"], "attachment; filename=\"Roundtrip-v0.csv\"");
    let text = download.text();
    assert!(text.starts_with("id,amount,when,day,ok,name\r\n"), "{text}");

    let project = app.create_project(&app.admin_key, "Again").await;
    let again = app.upload(&app.admin_key, project, "Again", "again.csv", text.as_bytes()).await.expect(201);
    let again_id = uuid_of(&again["dataset_id"]);
    let cols = |id| {
        let app = &app;
        async move { app.get(&app.admin_key, &format!("/api/datasets/{id}/columns")).await.expect(200) }
    };
    assert_eq!(cols(id).await, cols(again_id).await);
    let preview = |id| {
        let app = &app;
        async move { app.get(&app.admin_key, &format!("/api/datasets/{id}")).await.expect(200)["preview"].clone() }
    };
    assert_eq!(preview(id).await, preview(again_id).await);
}

#[tokio::test]
async fn an_unknown_download_format_answers_400() {
    let app = spawn_app().await;
    let up = app.upload_ok("X", b"a\n1\n").await;
    let id = uuid_of(&up["dataset_id"]);
    app.get(&app.admin_key, &format!("/api/datasets/{id}/download?format=pdf")).await.expect_error(400, "bad_request");
}

#[tokio::test]
async fn deleting_a_dataset_removes_every_version_and_file() {
    let app = spawn_app().await;
    let up = app.upload_ok("Doomed", b"a\n1\n2\n").await;
    let id = uuid_of(&up["dataset_id"]);
    app.new_version(&app.admin_key, id, "more", b"a\n1\n2\n3\n").await.expect(201);
    assert_eq!(app.stored_artifacts().await.len(), 4);
    assert_eq!(app.delete(&app.admin_key, &format!("/api/datasets/{id}")).await.expect(200), json!({"ok": true}));
    for path in ["", "/columns", "/versions", "/quality", "/download"] {
        app.get(&app.admin_key, &format!("/api/datasets/{id}{path}")).await.expect_error(404, "not_found");
    }
    let version = up["dataset_version_id"].as_str().unwrap();
    app.get(&app.admin_key, &format!("/api/dataset-versions/{version}")).await.expect_error(404, "not_found");
    app.delete(&app.admin_key, &format!("/api/datasets/{id}")).await.expect_error(404, "not_found");
    assert!(app.stored_artifacts().await.is_empty());
}

#[tokio::test]
async fn the_quality_report_is_stored_with_the_upload() {
    let app = spawn_app().await;
    let csv = "a,b,c\n1,x,\n2,x,\n1,x,\n3,x,\n";
    let up = app.upload_ok("Quality", csv.as_bytes()).await;
    let failed: Vec<&str> =
        up["quality"]["issues"].as_array().unwrap().iter().map(|c| c["name"].as_str().unwrap()).collect();
    assert_eq!(failed, ["missing_values", "duplicate_rows", "constant_columns", "empty_columns"]);
    let id = uuid_of(&up["dataset_id"]);
    let report = app.get(&app.admin_key, &format!("/api/datasets/{id}/quality")).await.expect(200);
    let checks = report["quality"]["checks"].as_array().unwrap();
    let names: Vec<&str> = checks.iter().map(|c| c["name"].as_str().unwrap()).collect();
    assert_eq!(
        names,
        [
            "missing_values",
            "duplicate_rows",
            "constant_columns",
            "empty_columns",
            "mixed_types",
            "high_cardinality",
            "outliers"
        ]
    );
    assert_eq!(checks[1], json!({"name": "duplicate_rows", "passed": false, "details": "1 duplicate (25.00%)"}));
    assert_eq!(checks[2]["details"], "1 constant column: b");
    assert_eq!(checks[3]["details"], "1 empty column: c");
    // missing: 4 of 12 cells; duplicates: 1 of 4 rows; constant: 1 of 3; empty: 1 of 3;
    // nothing mixed, no high cardinality, no outliers in a = [1, 2, 1, 3].
    let expected =
        100.0 * (0.3 * (1.0 - 4.0 / 12.0) + 0.2 * 0.75 + 0.1 * (2.0 / 3.0) + 0.1 * (2.0 / 3.0) + 0.1 + 0.1 + 0.1);
    assert_eq!(report["quality"]["overall_score"], (expected * 10.0f64).round() / 10.0);
    assert_eq!(up["quality"]["overall_score"], report["quality"]["overall_score"]);
}

#[tokio::test]
async fn mixed_types_high_cardinality_and_outliers_are_reported() {
    let app = spawn_app().await;
    let mut csv = String::from("amount,user,score\n");
    for i in 0..100 {
        let amount = if i == 7 { "unknown".to_string() } else { format!("{}.5", i % 10) };
        let score = if i < 10 { 1000 } else { i % 5 };
        csv.push_str(&format!("{amount},user-{i},{score}\n"));
    }
    let up = app.upload_ok("Messy", csv.as_bytes()).await;
    let id = uuid_of(&up["dataset_id"]);
    let columns = app.get(&app.admin_key, &format!("/api/datasets/{id}/columns")).await.expect(200);
    assert_eq!(columns["columns"][0]["dtype"], "category", "one word makes the column text (10 distinct values)");
    let report = app.get(&app.admin_key, &format!("/api/datasets/{id}/quality")).await.expect(200);
    let check = |name: &str| {
        report["quality"]["checks"].as_array().unwrap().iter().find(|c| c["name"] == name).unwrap().clone()
    };
    assert_eq!(check("mixed_types")["details"], "1 column mixing types: amount (1 of 100 values are not float64)");
    assert_eq!(check("mixed_types")["passed"], false);
    assert_eq!(check("high_cardinality")["passed"], false);
    assert!(check("high_cardinality")["details"].as_str().unwrap().contains("user (~"));
    assert_eq!(check("outliers")["details"], "1 column with over 5.00% outliers: score (10.00%)");
}

#[tokio::test]
async fn ids_that_are_not_uuids_answer_400() {
    let app = spawn_app().await;
    app.get(&app.admin_key, "/api/datasets/not-a-uuid").await.expect_error(400, "bad_request");
    app.get(&app.admin_key, "/api/dataset-versions/42").await.expect_error(400, "bad_request");
    app.delete(&app.admin_key, "/api/datasets/x").await.expect_error(400, "bad_request");
}

#[tokio::test]
async fn unknown_routes_and_methods_answer_json_errors() {
    let app = spawn_app().await;
    app.get(&app.admin_key, "/api/nothing-here").await.expect_error(404, "not_found");
    let put =
        app.send(app.client.put("/api/projects").header("Authorization", format!("Bearer {}", app.admin_key))).await;
    put.expect_error(405, "method_not_allowed");
}

/// Outliers by the documented rule (Tukey fences over the quartiles of the sorted present
/// values, linear interpolation), computed here independently of the server.
fn outlier_share(values: &[f64]) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let quartile = |p: f64| {
        let h = (sorted.len() - 1) as f64 * p;
        let (lo, frac) = (h.floor() as usize, h - h.floor());
        if frac > 0.0 { sorted[lo] + (sorted[lo + 1] - sorted[lo]) * frac } else { sorted[lo] }
    };
    let (q1, q3) = (quartile(0.25), quartile(0.75));
    let (low, high) = (q1 - 1.5 * (q3 - q1), q3 + 1.5 * (q3 - q1));
    sorted.iter().filter(|&&v| v < low || v > high).count() as f64 / sorted.len() as f64
}

#[tokio::test]
async fn outliers_at_upload_count_the_present_values_of_columns_with_missing_cells() {
    let app = spawn_app().await;
    let mut csv = String::from("n,x\n");
    let (mut ns, mut xs) = (Vec::new(), Vec::new());
    for i in 0..200u32 {
        let n = (i % 9 != 0).then(|| if i % 10 == 1 { 100_000 + i } else { i % 17 });
        let x = (i % 7 != 3).then(|| if i < 30 { 5000.0 + f64::from(i) } else { f64::from(i % 13) + 0.25 });
        ns.extend(n.map(f64::from));
        xs.extend(x);
        let cell = |v: Option<String>| v.unwrap_or_default();
        csv.push_str(&format!("{},{}\n", cell(n.map(|v| v.to_string())), cell(x.map(|v| format!("{v:?}")))));
    }
    let up = app.upload_ok("Gappy", csv.as_bytes()).await;
    let id = uuid_of(&up["dataset_id"]);
    let columns = app.get(&app.admin_key, &format!("/api/datasets/{id}/columns")).await.expect(200);
    assert_eq!(columns["columns"][0]["dtype"], "int64");
    assert_eq!(columns["columns"][1]["dtype"], "float64");
    let report = app.get(&app.admin_key, &format!("/api/datasets/{id}/quality")).await.expect(200);
    let outliers = report["quality"]["checks"].as_array().unwrap().iter().find(|c| c["name"] == "outliers").unwrap();
    let (n_share, x_share) = (outlier_share(&ns), outlier_share(&xs));
    assert!(n_share > 0.05 && x_share > 0.05, "both columns must fail the check: {n_share} {x_share}");
    let expected =
        format!("2 columns with over 5.00% outliers: n ({:.2}%), x ({:.2}%)", n_share * 100.0, x_share * 100.0);
    assert_eq!(outliers["details"], expected);
}
