//! The test harness shared by the end-to-end tests: the real binary started in a fresh
//! directory, its output collected, an HTTP client, sign-up through the printed codes.

#![allow(dead_code, unreachable_pub)]

use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use reqwest::{Client, Method, StatusCode};
use serde_json::{Value, json};

pub const BIN: &str = env!("CARGO_BIN_EXE_example-saas-axum");
pub const PASSWORD: &str = "correct horse battery staple";

/// The running binary: its address, its output lines and its working directory.
pub struct Starter {
    child: Child,
    /// `http://127.0.0.1:{port}`.
    pub base: String,
    lines: Arc<Mutex<Vec<String>>>,
    dir: PathBuf,
    env: Vec<(String, String)>,
}

/// Reads `reader` line by line into `lines` on a thread of its own.
fn collect(reader: impl std::io::Read + Send + 'static, lines: Arc<Mutex<Vec<String>>>) {
    std::thread::spawn(move || {
        for line in BufReader::new(reader).lines().map_while(Result::ok) {
            lines.lock().unwrap().push(line);
        }
    });
}

impl Starter {
    /// Starts the binary in a fresh directory with `env` (plus a loopback address on a free
    /// port) and waits until it listens.
    pub fn start(name: &str, env: Vec<(String, String)>) -> Self {
        let dir = std::env::temp_dir().join(format!("{name}-{}", mortar_testkit::unique_name()));
        std::fs::create_dir_all(&dir).unwrap();
        let mut env = env;
        env.push(("MORTAR_LISTEN".into(), "127.0.0.1:0".into()));
        env.push(("MORTAR_LOG_FORMAT".into(), "json".into()));
        env.push(("MORTAR_LOG".into(), "info".into()));
        let mut child = command(&dir, &env)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the starter binary starts");
        let lines = Arc::new(Mutex::new(Vec::new()));
        collect(child.stdout.take().unwrap(), lines.clone());
        collect(child.stderr.take().unwrap(), lines.clone());
        let mut starter = Self {
            child,
            base: String::new(),
            lines,
            dir,
            env,
        };
        let listening = starter.wait_for(Duration::from_mins(1), |line| {
            serde_json::from_str::<Value>(line)
                .ok()
                .filter(|v| v["message"] == "listening")
                .and_then(|v| v["addr"].as_str().map(str::to_owned))
        });
        starter.base = format!("http://{listening}");
        starter
    }

    /// The first output line `pick` accepts (newest first), waiting up to `timeout`.
    pub fn wait_for<T>(&mut self, timeout: Duration, pick: impl Fn(&str) -> Option<T>) -> T {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(found) = self
                .lines
                .lock()
                .unwrap()
                .iter()
                .rev()
                .find_map(|l| pick(l))
            {
                return found;
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("the starter exited ({status}):\n{}", self.output());
            }
            assert!(
                Instant::now() < deadline,
                "timed out; output:\n{}",
                self.output()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn output(&self) -> String {
        self.lines.lock().unwrap().join("\n")
    }

    /// The newest code of `purpose` sent to `email` (the development sender prints it).
    pub fn code(&mut self, purpose: &str, email: &str) -> String {
        let prefix = format!("[mortar-auth development sender] {purpose} code for {email}: ");
        self.wait_for(Duration::from_secs(30), |line| {
            line.strip_prefix(&prefix).map(str::to_owned)
        })
    }

    /// Runs the admin CLI with the server's configuration; answers its status and stdout.
    pub fn cli(&self, args: &[&str]) -> (ExitStatus, String) {
        let env: Vec<(String, String)> = self
            .env
            .iter()
            .filter(|(k, _)| k != "MORTAR_LISTEN")
            .cloned()
            .collect();
        let out = command(&self.dir, &env).args(args).output().unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(
            out.status.success() || args.first() == Some(&"audit"),
            "{args:?}: {}\n{stdout}\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        (out.status, stdout)
    }

    /// Asks for a graceful stop (SIGTERM) and waits for the exit.
    pub fn stop(mut self) -> (ExitStatus, String) {
        let pid = self.child.id().to_string();
        assert!(
            Command::new("kill")
                .args(["-TERM", &pid])
                .status()
                .unwrap()
                .success()
        );
        let deadline = Instant::now() + Duration::from_mins(1);
        let status = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break status;
            }
            assert!(Instant::now() < deadline, "no exit after SIGTERM");
            std::thread::sleep(Duration::from_millis(50));
        };
        // The readers see the pipes close.
        std::thread::sleep(Duration::from_millis(200));
        let output = self.output();
        let _ = std::fs::remove_dir_all(&self.dir);
        (status, output)
    }
}

impl Drop for Starter {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The binary in `dir` with only `env` among the `MORTAR_*` variables (a developer's own
/// settings, or a `.env` file, never leak in: the directory is fresh).
pub fn command(dir: &Path, env: &[(String, String)]) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.current_dir(dir);
    for (key, _) in std::env::vars() {
        if key.starts_with("MORTAR_") {
            cmd.env_remove(key);
        }
    }
    cmd.envs(env.iter().map(|(k, v)| (k, v)));
    cmd
}

/// An HTTP client over loopback, with the caller's bearer token when given.
pub struct Api {
    /// The client.
    pub http: Client,
    /// `http://127.0.0.1:{port}`.
    pub base: String,
}

impl Api {
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
        headers: &[(&str, &str)],
    ) -> (StatusCode, reqwest::header::HeaderMap, Value) {
        let mut req = self.http.request(method, format!("{}{path}", self.base));
        if let Some(token) = token {
            req = req.bearer_auth(token);
        }
        for (name, value) in headers {
            req = req.header(*name, *value);
        }
        if let Some(body) = body {
            req = req.json(&body);
        }
        let res = req.send().await.unwrap();
        let status = res.status();
        let headers = res.headers().clone();
        let bytes = res.bytes().await.unwrap();
        let value = serde_json::from_slice(&bytes)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()));
        (status, headers, value)
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> (StatusCode, Value) {
        let (status, _, body) = self.call(Method::GET, path, token, None, &[]).await;
        (status, body)
    }

    pub async fn post(&self, path: &str, token: Option<&str>, body: Value) -> (StatusCode, Value) {
        let (status, _, body) = self.call(Method::POST, path, token, Some(body), &[]).await;
        (status, body)
    }
}

/// Registers `email`, verifies it with the mailed code and logs in: the tokens.
pub async fn sign_up(starter: &mut Starter, api: &Api, email: &str) -> Value {
    let creds = json!({"email": email, "password": PASSWORD});
    let (status, body) = api.post("/auth/register", None, creds.clone()).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    let code = starter.code("verify_email", email);
    let (status, body) = api
        .post("/auth/verify-email", None, json!({"token": code}))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, tokens) = api.post("/auth/login", None, creds).await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
    tokens
}

pub fn png(width: u32, height: u32) -> Vec<u8> {
    let image = image::RgbImage::from_fn(width, height, |x, y| {
        image::Rgb([x.to_le_bytes()[0], y.to_le_bytes()[0], 128])
    });
    let mut out = std::io::Cursor::new(Vec::new());
    image.write_to(&mut out, image::ImageFormat::Png).unwrap();
    out.into_inner()
}

/// The code an authenticator app shows `offset` seconds from now.
pub fn app_code(secret: &[u8], offset: u64) -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    mortar::auth::mfa::totp_code(
        mortar::auth::mfa::TotpAlgorithm::Sha1,
        6,
        30,
        secret,
        now + offset,
    )
    .unwrap()
}

/// The settings that put the starter on a fresh PostgreSQL schema, a Redis key prefix of its
/// own and, when given, a fresh S3 bucket.
pub fn services_env(
    db: &mortar_testkit::TestDatabase,
    redis: &mortar_testkit::TestRedis,
    s3: Option<&mortar_testkit::TestS3>,
) -> Vec<(String, String)> {
    let mut env = vec![
        ("MORTAR_DATABASE_URL".to_owned(), db.url().to_owned()),
        ("MORTAR_REDIS_URL".into(), redis.url().to_owned()),
        ("MORTAR_REDIS_PREFIX".into(), format!("{}:", redis.prefix())),
    ];
    if let Some(s3) = s3 {
        env.extend([
            ("MORTAR_S3_ENDPOINT".into(), s3.endpoint().to_owned()),
            ("MORTAR_S3_BUCKET".into(), s3.bucket_name()),
            ("MORTAR_S3_REGION".into(), s3.region().to_owned()),
            ("MORTAR_S3_ACCESS_KEY".into(), s3.access_key().to_owned()),
            ("MORTAR_S3_SECRET_KEY".into(), s3.secret_key().to_owned()),
        ]);
    }
    env
}
