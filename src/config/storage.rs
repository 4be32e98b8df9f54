//! `STORAGE_URL` and the cloud credentials that go with it.
//!
//! | `STORAGE_URL`                 | store            | settings read from the environment |
//! |-------------------------------|------------------|------------------------------------|
//! | `PATH` or `fs://PATH`         | local folder     | —                                  |
//! | `s3://BUCKET[/PREFIX]`        | Amazon S3 (or compatible) | `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`, `AWS_REGION` (or `AWS_DEFAULT_REGION`), `AWS_ENDPOINT_URL` |
//! | `gcs://BUCKET[/PREFIX]`       | Google Cloud Storage | `GOOGLE_APPLICATION_CREDENTIALS`, `STORAGE_EMULATOR_HOST` (an emulator's address: no credentials) |
//! | `azblob://CONTAINER[/PREFIX]` | Azure Blob Storage | `AZURE_STORAGE_CONNECTION_STRING`, or `AZURE_STORAGE_ACCOUNT` + `AZURE_STORAGE_KEY` (+ `AZURE_STORAGE_ENDPOINT`) |
//!
//! Secrets are kept in [`Secret`]s, which never print.

use std::fmt;
use std::path::PathBuf;

use super::{ConfigError, Secret};

/// Where artifacts are stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StorageTarget {
    Filesystem(PathBuf),
    S3(S3Target),
    Gcs(GcsTarget),
    Azblob(AzblobTarget),
}

impl StorageTarget {
    /// The store as it appears in messages: scheme, bucket and prefix, never a credential.
    pub fn describe(&self) -> String {
        let url = |scheme: &str, bucket: &str, prefix: &str| match prefix {
            "" => format!("{scheme}://{bucket}"),
            _ => format!("{scheme}://{bucket}/{prefix}"),
        };
        match self {
            StorageTarget::Filesystem(path) => format!("fs:{}", path.display()),
            StorageTarget::S3(t) => url("s3", &t.bucket, &t.prefix),
            StorageTarget::Gcs(t) => url("gcs", &t.bucket, &t.prefix),
            StorageTarget::Azblob(t) => url("azblob", &t.container, &t.prefix),
        }
    }
}

impl fmt::Display for StorageTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.describe())
    }
}

/// An S3 bucket (AWS or an S3-compatible server).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct S3Target {
    pub bucket: String,
    /// Folder inside the bucket, without leading or trailing `/` (may be empty).
    pub prefix: String,
    /// `AWS_REGION` or `AWS_DEFAULT_REGION`; `us-east-1` when an endpoint is set without one.
    pub region: Option<String>,
    /// `AWS_ENDPOINT_URL_S3` or `AWS_ENDPOINT_URL`: for S3-compatible servers and emulators.
    pub endpoint: Option<String>,
    pub access_key_id: Option<String>,
    pub secret_access_key: Option<Secret>,
    pub session_token: Option<Secret>,
}

/// A Google Cloud Storage bucket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GcsTarget {
    pub bucket: String,
    pub prefix: String,
    /// `GOOGLE_APPLICATION_CREDENTIALS`: a service account key file.
    pub credential_path: Option<String>,
    /// `STORAGE_EMULATOR_HOST` (the variable Google's own clients read): requests go there,
    /// unsigned.
    pub emulator_host: Option<String>,
}

/// An Azure Blob Storage container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AzblobTarget {
    pub container: String,
    pub prefix: String,
    pub credentials: AzureCredentials,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AzureCredentials {
    /// `AZURE_STORAGE_CONNECTION_STRING` (holds the account key, so it is a secret as a whole).
    ConnectionString(Secret),
    /// `AZURE_STORAGE_ACCOUNT` + `AZURE_STORAGE_KEY`, and `AZURE_STORAGE_ENDPOINT` or
    /// `https://ACCOUNT.blob.core.windows.net`.
    AccountKey { account: String, key: Secret, endpoint: String },
}

/// Reads `STORAGE_URL` (`url`) with the credentials in `vars`.
pub fn parse_storage(url: &str, vars: &dyn Fn(&str) -> Option<String>) -> Result<StorageTarget, ConfigError> {
    let err = |problem: String| ConfigError { name: "STORAGE_URL", problem };
    let url = url.trim();
    if url.is_empty() {
        return Err(err("is empty".into()));
    }
    let Some((scheme, rest)) = url.split_once("://") else {
        return Ok(StorageTarget::Filesystem(PathBuf::from(url)));
    };
    if scheme == "fs" {
        if rest.is_empty() {
            return Err(err("fs:// needs a folder, as in fs:///var/lib/datasets".into()));
        }
        return Ok(StorageTarget::Filesystem(PathBuf::from(rest)));
    }
    let (bucket, prefix) = split_bucket(rest);
    if !matches!(scheme, "s3" | "gcs" | "gs" | "azblob") {
        return Err(err(format!(
            "unknown store {scheme}://; use a folder path, fs://PATH, s3://BUCKET/PREFIX, gcs://BUCKET/PREFIX or \
             azblob://CONTAINER/PREFIX"
        )));
    }
    if bucket.is_empty() {
        return Err(err(format!("{scheme}:// needs a bucket or container name, as in {scheme}://datasets/prod")));
    }
    let secret = |name: &str| vars(name).map(Secret::new);
    match scheme {
        "s3" => {
            let endpoint = vars("AWS_ENDPOINT_URL_S3").or_else(|| vars("AWS_ENDPOINT_URL"));
            let region = vars("AWS_REGION").or_else(|| vars("AWS_DEFAULT_REGION"));
            let access_key_id = vars("AWS_ACCESS_KEY_ID");
            let secret_access_key = secret("AWS_SECRET_ACCESS_KEY");
            if access_key_id.is_some() != secret_access_key.is_some() {
                return Err(ConfigError {
                    name: "AWS_SECRET_ACCESS_KEY",
                    problem: "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY must be set together".into(),
                });
            }
            Ok(StorageTarget::S3(S3Target {
                bucket,
                prefix,
                region,
                endpoint,
                access_key_id,
                secret_access_key,
                session_token: secret("AWS_SESSION_TOKEN"),
            }))
        }
        "gcs" | "gs" => Ok(StorageTarget::Gcs(GcsTarget {
            bucket,
            prefix,
            credential_path: vars("GOOGLE_APPLICATION_CREDENTIALS"),
            emulator_host: vars("STORAGE_EMULATOR_HOST"),
        })),
        _ => {
            let credentials = if let Some(conn) = vars("AZURE_STORAGE_CONNECTION_STRING") {
                AzureCredentials::ConnectionString(Secret::new(conn))
            } else {
                match (vars("AZURE_STORAGE_ACCOUNT"), secret("AZURE_STORAGE_KEY")) {
                    (Some(account), Some(key)) => {
                        let endpoint = vars("AZURE_STORAGE_ENDPOINT")
                            .unwrap_or_else(|| format!("https://{account}.blob.core.windows.net"));
                        AzureCredentials::AccountKey { account, key, endpoint }
                    }
                    _ => {
                        return Err(ConfigError {
                            name: "AZURE_STORAGE_CONNECTION_STRING",
                            problem: "azblob:// needs AZURE_STORAGE_CONNECTION_STRING, or AZURE_STORAGE_ACCOUNT and \
                                      AZURE_STORAGE_KEY"
                                .into(),
                        });
                    }
                }
            };
            Ok(StorageTarget::Azblob(AzblobTarget { container: bucket, prefix, credentials }))
        }
    }
}

/// `BUCKET/PRE/FIX/` → (`BUCKET`, `PRE/FIX`).
fn split_bucket(rest: &str) -> (String, String) {
    let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
    let prefix = prefix.split('/').filter(|p| !p.is_empty()).collect::<Vec<_>>().join("/");
    (bucket.to_string(), prefix)
}

/// The cloud variables read by [`parse_storage`], for `--help`.
pub const CLOUD_VARIABLES: &[(&str, &str)] = &[
    (
        "AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY",
        "S3 credentials (else the AWS default chain: profile, instance role)",
    ),
    ("AWS_SESSION_TOKEN", "S3 temporary credentials' token"),
    ("AWS_REGION / AWS_DEFAULT_REGION", "S3 region"),
    ("AWS_ENDPOINT_URL(_S3)", "S3-compatible server or emulator, e.g. http://127.0.0.1:5000"),
    ("GOOGLE_APPLICATION_CREDENTIALS", "GCS service account key file"),
    ("STORAGE_EMULATOR_HOST", "GCS emulator address, e.g. http://127.0.0.1:9023 (requests are not signed)"),
    ("AZURE_STORAGE_CONNECTION_STRING", "Azure Blob connection string (Azurite's works)"),
    ("AZURE_STORAGE_ACCOUNT / AZURE_STORAGE_KEY", "Azure Blob account and key, instead of a connection string"),
    ("AZURE_STORAGE_ENDPOINT", "Azure Blob endpoint (default https://ACCOUNT.blob.core.windows.net)"),
];

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn lookup(map: &HashMap<String, String>) -> impl Fn(&str) -> Option<String> + '_ {
        move |name| map.get(name).cloned().filter(|v| !v.is_empty())
    }

    fn parse(url: &str, vars: &[(&str, &str)]) -> Result<StorageTarget, ConfigError> {
        let map: HashMap<String, String> = vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        parse_storage(url, &lookup(&map))
    }

    #[test]
    fn a_path_or_fs_url_is_a_local_folder() {
        assert_eq!(parse("data/a", &[]).unwrap(), StorageTarget::Filesystem("data/a".into()));
        assert_eq!(parse("fs:///var/x", &[]).unwrap(), StorageTarget::Filesystem("/var/x".into()));
    }

    #[test]
    fn an_s3_url_takes_bucket_prefix_and_the_aws_variables() {
        let t = parse(
            "s3://bkt/team/prod/",
            &[
                ("AWS_ACCESS_KEY_ID", "AKIA1"),
                ("AWS_SECRET_ACCESS_KEY", "s3cr3t"),
                ("AWS_REGION", "eu-west-1"),
                ("AWS_ENDPOINT_URL", "http://127.0.0.1:5000"),
            ],
        )
        .unwrap();
        let StorageTarget::S3(s3) = &t else { panic!("{t:?}") };
        assert_eq!((s3.bucket.as_str(), s3.prefix.as_str()), ("bkt", "team/prod"));
        assert_eq!(s3.region.as_deref(), Some("eu-west-1"));
        assert_eq!(s3.endpoint.as_deref(), Some("http://127.0.0.1:5000"));
        assert!(!format!("{t:?}").contains("s3cr3t"), "the secret never prints");
        assert_eq!(t.describe(), "s3://bkt/team/prod");
    }

    #[test]
    fn half_of_an_aws_key_pair_is_refused() {
        assert_eq!(parse("s3://b", &[("AWS_ACCESS_KEY_ID", "x")]).unwrap_err().name, "AWS_SECRET_ACCESS_KEY");
    }

    #[test]
    fn gcs_reads_the_emulator_host_and_accepts_gs() {
        let t = parse("gs://b", &[("STORAGE_EMULATOR_HOST", "http://127.0.0.1:9023")]).unwrap();
        let StorageTarget::Gcs(g) = t else { panic!() };
        assert_eq!((g.bucket.as_str(), g.prefix.as_str()), ("b", ""));
        assert_eq!(g.emulator_host.as_deref(), Some("http://127.0.0.1:9023"));
    }

    #[test]
    fn azure_needs_a_connection_string_or_an_account_key() {
        assert_eq!(parse("azblob://c/p", &[]).unwrap_err().name, "AZURE_STORAGE_CONNECTION_STRING");
        let t = parse("azblob://c/p", &[("AZURE_STORAGE_ACCOUNT", "acct"), ("AZURE_STORAGE_KEY", "k3y")]).unwrap();
        let StorageTarget::Azblob(a) = &t else { panic!() };
        assert_eq!(
            a.credentials,
            AzureCredentials::AccountKey {
                account: "acct".into(),
                key: Secret::new("k3y"),
                endpoint: "https://acct.blob.core.windows.net".into()
            }
        );
        assert!(!format!("{t:?}").contains("k3y"));
    }

    #[test]
    fn unknown_schemes_and_missing_buckets_are_named() {
        assert!(parse("ftp://x", &[]).unwrap_err().problem.contains("unknown store ftp://"));
        assert!(parse("s3://", &[]).unwrap_err().problem.contains("needs a bucket"));
        assert!(parse("  ", &[]).unwrap_err().problem.contains("empty"));
    }
}
