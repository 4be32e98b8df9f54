//! `POST /api/datasets/{id}/query`: one read-only statement over a dataset's versions.

use bytes::Bytes;
use serde_json::{Value, json};

use crate::helpers::{Reply, TestApp, spawn_app, uuid_of};

/// v0: 4 rows; v1: the same with row 4 changed and a fifth row.
async fn dataset(app: &TestApp) -> uuid::Uuid {
    let up = app.upload_ok("Sales", b"id,country,amount\n1,DE,10\n2,FR,20\n3,DE,30\n4,IT,40\n").await;
    let id = uuid_of(&up["dataset_id"]);
    let v1 = b"id,country,amount\n1,DE,10\n2,FR,20\n3,DE,30\n4,IT,45\n5,FR,50\n";
    app.new_version(&app.admin_key, id, "changed", v1).await.expect(201);
    id
}

async fn query(app: &TestApp, id: uuid::Uuid, body: Value) -> Reply {
    app.post_json(&app.admin_key, &format!("/api/datasets/{id}/query"), body).await
}

#[tokio::test]
async fn a_group_by_answers_typed_rows_with_their_columns() {
    let app = spawn_app().await;
    let id = dataset(&app).await;
    let sql = "SELECT country, count(*) AS n, avg(amount) AS mean FROM data GROUP BY 1 ORDER BY 1";
    let answer = query(&app, id, json!({"sql": sql})).await.expect(200);
    assert_eq!(
        answer["columns"],
        json!([{"name": "country", "dtype": "object"}, {"name": "n", "dtype": "int64"}, {"name": "mean", "dtype": "float64"}])
    );
    assert_eq!(
        answer["rows"],
        json!([{"country": "DE", "n": 2, "mean": 20.0}, {"country": "FR", "n": 2, "mean": 35.0}, {"country": "IT", "n": 1, "mean": 45.0}])
    );
    assert_eq!(answer["row_count"], 3);
    assert_eq!(answer["truncated"], false);
    let v0 = query(&app, id, json!({"sql": "SELECT sum(amount) AS s FROM data", "version": 0})).await.expect(200);
    assert_eq!(v0["rows"], json!([{"s": 100}]));
    let named = query(&app, id, json!({"sql": "SELECT sum(amount) AS s FROM data", "version": "0"})).await.expect(200);
    assert_eq!(named["rows"], v0["rows"]);
}

#[tokio::test]
async fn every_version_is_a_table_so_versions_can_be_compared_in_sql() {
    let app = spawn_app().await;
    let id = dataset(&app).await;
    let sql = "SELECT * FROM v1 EXCEPT SELECT * FROM v0 ORDER BY id";
    let answer = query(&app, id, json!({"sql": sql})).await.expect(200);
    assert_eq!(
        answer["rows"],
        json!([{"id": 4, "country": "IT", "amount": 45}, {"id": 5, "country": "FR", "amount": 50}])
    );
    let joined = "SELECT v0.id, v0.amount, v1.amount FROM v0 JOIN v1 ON v0.id = v1.id WHERE v0.amount <> v1.amount";
    let answer = query(&app, id, json!({"sql": joined})).await.expect(200);
    assert_eq!(answer["rows"], json!([{"id": 4, "v0.amount": 40, "v1.amount": 45}]));
    let missing = query(&app, id, json!({"sql": "SELECT * FROM v7"})).await.expect_error(400, "bad_request");
    assert!(missing.contains("v7"), "{missing}");
    let unknown = query(&app, id, json!({"sql": "SELECT * FROM other"})).await.expect_error(400, "bad_request");
    assert!(unknown.contains("other"), "{unknown}");
}

#[tokio::test]
async fn only_one_read_only_statement_is_allowed() {
    let app = spawn_app().await;
    let id = dataset(&app).await;
    for sql in [
        "CREATE TABLE t AS SELECT 1",
        "CREATE EXTERNAL TABLE t STORED AS CSV LOCATION '/etc/passwd'",
        "INSERT INTO data VALUES (1, 'x', 2)",
        "DELETE FROM data",
        "COPY data TO '/tmp/out.csv'",
        "SET datafusion.execution.batch_size = 1",
        "SELECT 1; SELECT 2",
        "EXPLAIN SELECT 1",
        "DROP TABLE data",
        "SELECT * INTO t FROM data",
    ] {
        query(&app, id, json!({"sql": sql})).await.expect_error(400, "bad_request");
    }
    for sql in ["SELECT * FROM '/etc/passwd'", "SELECT * FROM 'file:///etc/passwd'", "SELECT * FROM read_parquet('x')"]
    {
        query(&app, id, json!({"sql": sql})).await.expect_error(400, "bad_request");
    }
    let values = query(&app, id, json!({"sql": "VALUES (1, 'a'), (2, 'b')"})).await.expect(200);
    assert_eq!(values["row_count"], 2);
    let with = query(
        &app,
        id,
        json!({"sql": "WITH big AS (SELECT * FROM data WHERE amount > 20) SELECT count(*) AS n FROM big"}),
    );
    assert_eq!(with.await.expect(200)["rows"], json!([{"n": 3}]));
}

#[tokio::test]
async fn json_answers_stop_at_max_rows_and_say_so() {
    let app = spawn_app().await;
    let id = dataset(&app).await;
    let answer = query(&app, id, json!({"sql": "SELECT id FROM data ORDER BY id", "max_rows": 2})).await.expect(200);
    assert_eq!(answer["rows"], json!([{"id": 1}, {"id": 2}]));
    assert_eq!(answer["truncated"], true);
    let exact = query(&app, id, json!({"sql": "SELECT id FROM data", "max_rows": 5})).await.expect(200);
    assert_eq!(exact["truncated"], false);
    assert_eq!(exact["row_count"], 5);
    query(&app, id, json!({"sql": "SELECT 1", "max_rows": 100_001})).await.expect_error(400, "bad_request");
    query(&app, id, json!({"sql": "   "})).await.expect_error(400, "bad_request");
}

#[tokio::test]
async fn csv_parquet_and_arrow_answers_stream_the_rows() {
    let app = spawn_app().await;
    let id = dataset(&app).await;
    let sql = "SELECT id, country FROM data WHERE amount >= 30 ORDER BY id";
    let csv = query(&app, id, json!({"sql": sql, "format": "csv"})).await;
    assert_eq!(csv.status.as_u16(), 200);
    assert_eq!(csv.text(), "id,country\r\n3,DE\r\n4,IT\r\n5,FR\r\n");
    let parquet = query(&app, id, json!({"sql": sql, "format": "parquet"})).await;
    assert_eq!(parquet.headers["content-type"], "application/vnd.apache.parquet");
    let batches: Vec<arrow::array::RecordBatch> =
        parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(Bytes::from(parquet.body.to_vec()))
            .unwrap()
            .build()
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
    assert_eq!(batches.iter().map(|b| b.num_rows()).sum::<usize>(), 3);
    let arrow = query(&app, id, json!({"sql": sql, "format": "arrow", "max_rows": 2})).await;
    assert_eq!(arrow.headers["content-type"], "application/vnd.apache.arrow.stream");
    let batches: Vec<arrow::array::RecordBatch> =
        arrow::ipc::reader::StreamReader::try_new(std::io::Cursor::new(arrow.body.to_vec()), None)
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
    assert_eq!(batches.iter().map(|b| b.num_rows()).sum::<usize>(), 2, "max_rows applies to streams too");
}

#[tokio::test]
async fn a_runtime_error_of_the_query_is_a_bad_request_not_a_server_error() {
    let app = spawn_app().await;
    let id = dataset(&app).await;
    for sql in ["SELECT id / 0 FROM data", "SELECT CAST(country AS INT) FROM data", "SELECT nope FROM data", "SELEC 1"]
    {
        let reply = query(&app, id, json!({"sql": sql})).await;
        assert_eq!(reply.status.as_u16(), 400, "{sql}: {}", String::from_utf8_lossy(&reply.body));
    }
}
