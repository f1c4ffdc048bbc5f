//! The control API server: a Unix socket in the state directory (`oakleyd.sock`, mode
//! 0600) speaking the JSON lines of the `control` crate. Only root and the daemon's own
//! user get answers (`SO_PEERCRED`); anyone else gets one `denied` error and the door.
//!
//! The daemon implements [`Handler`]; [`dispatch`] maps requests to its methods, so the
//! protocol is testable without a socket. Methods with defaults are the extension points
//! the IKE side fills in (main mode SAs and statistics, deleting main mode SAs).
//!
//! Malformed input never panics: a line that is not a request (bad JSON, unknown command,
//! wrong field types, longer than [`control::MAX_LINE`], not UTF-8) gets a `bad_request`
//! error naming the problem; the connection stays usable unless the line was too long.

pub mod service;

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use control::{
    AllReport, DynamicConfig, ErrorCode, FilterQuery, FilterReport, MmFilterView, MmSa,
    QmFilterView, QmSa, Reply, Request, Response, SaFilter, Stats, StatsKind, Status,
};

/// An error a handler reports to the client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HandlerError {
    pub code: ErrorCode,
    pub message: String,
}

impl HandlerError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> HandlerError {
        HandlerError {
            code,
            message: message.into(),
        }
    }

    pub fn unsupported(what: &str) -> HandlerError {
        HandlerError::new(
            ErrorCode::Unsupported,
            format!("{what} is not available: this oakleyd does not run IKE yet"),
        )
    }
}

/// What the daemon answers through the control socket.
pub trait Handler: Send + Sync {
    fn status(&self) -> Status;
    /// Re-reads the stores and applies policy (persistent first).
    fn reload(&self) -> Result<Status, HandlerError>;
    fn config(&self) -> DynamicConfig;
    fn set_config(&self, property: &str, value: &str) -> Result<DynamicConfig, HandlerError>;
    fn stats(&self, kind: StatsKind) -> Stats;
    fn qm_sas(&self, filter: &SaFilter) -> Vec<QmSa>;
    fn delete_qm_sas(&self, filter: &SaFilter) -> Result<usize, HandlerError>;
    fn qm_filters(&self, query: &FilterQuery) -> FilterReport<QmFilterView>;
    fn mm_filters(&self, query: &FilterQuery) -> FilterReport<MmFilterView>;
    /// Main mode SAs (IKE).
    fn mm_sas(&self, _filter: &SaFilter) -> Result<Vec<MmSa>, HandlerError> {
        Err(HandlerError::unsupported("main mode SAs"))
    }
    /// Deletes main mode SAs (IKE; with a notification to the peer).
    fn delete_mm_sas(&self, _filter: &SaFilter) -> Result<usize, HandlerError> {
        Err(HandlerError::unsupported("main mode SAs"))
    }
}

/// Answers one request.
pub fn dispatch(h: &dyn Handler, req: Request) -> Response {
    let r: Result<Reply, HandlerError> = match req {
        Request::Ping => Ok(Reply::Pong(h.status())),
        Request::Reload => h.reload().map(Reply::Reloaded),
        Request::ShowConfig => Ok(Reply::Config(h.config())),
        Request::SetConfig { property, value } => {
            h.set_config(&property, &value).map(Reply::Config)
        }
        Request::ShowStats { kind } => Ok(Reply::Stats(Box::new(h.stats(kind)))),
        Request::ShowMmSas { filter } => h.mm_sas(&filter).map(|sas| Reply::MmSas { sas }),
        Request::ShowQmSas { filter } => Ok(Reply::QmSas {
            sas: h.qm_sas(&filter),
        }),
        Request::DeleteMmSas { filter } => h
            .delete_mm_sas(&filter)
            .map(|count| Reply::Deleted { count }),
        Request::DeleteQmSas { filter } => h
            .delete_qm_sas(&filter)
            .map(|count| Reply::Deleted { count }),
        Request::ShowMmFilter { query } => Ok(Reply::MmFilters(h.mm_filters(&query))),
        Request::ShowQmFilter { query } => Ok(Reply::QmFilters(h.qm_filters(&query))),
        Request::ShowAll => {
            let all = SaFilter::default();
            let q = FilterQuery::default();
            Ok(Reply::All(Box::new(AllReport {
                status: h.status(),
                config: h.config(),
                stats: h.stats(StatsKind::All),
                // Before IKE runs there are simply no main mode SAs to list.
                mm_sas: h.mm_sas(&all).unwrap_or_default(),
                qm_sas: h.qm_sas(&all),
                mm_filters: h.mm_filters(&q),
                qm_filters: h.qm_filters(&q),
            })))
        }
    };
    match r {
        Ok(result) => Response::Ok { result },
        Err(e) => Response::Error {
            code: e.code,
            message: e.message,
        },
    }
}

/// Answers one line of input (a request, or garbage).
pub fn answer_line(h: &dyn Handler, line: &str) -> Response {
    match serde_json::from_str::<Request>(line) {
        Ok(req) => dispatch(h, req),
        Err(e) => Response::Error {
            code: ErrorCode::BadRequest,
            message: format!("not a control request: {e}"),
        },
    }
}

/// Connections served at once; more are told to come back later.
const MAX_CONNECTIONS: usize = 16;
/// A connection silent for this long is closed.
const IDLE: Duration = Duration::from_secs(300);

/// The listening socket; removed from the file system when dropped.
pub struct Server {
    path: PathBuf,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error("another oakleyd already listens on {0}")]
    InUse(String),
    #[error("control socket {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
}

/// Binds `<dir>/oakleyd.sock` (replacing a stale one left by a killed daemon) and serves
/// it on a thread of its own.
pub fn start(dir: &Path, handler: Arc<dyn Handler>) -> Result<Server, ServerError> {
    let path = control::socket_path(dir);
    let io = |source| ServerError::Io {
        path: path.display().to_string(),
        source,
    };
    if path.exists() {
        if UnixStream::connect(&path).is_ok() {
            return Err(ServerError::InUse(path.display().to_string()));
        }
        std::fs::remove_file(&path).map_err(io)?;
    }
    let listener = UnixListener::bind(&path).map_err(io)?;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).map_err(io)?;
    let active = Arc::new(AtomicUsize::new(0));
    std::thread::Builder::new()
        .name("oakley-control".into())
        .spawn(move || {
            for conn in listener.incoming() {
                let Ok(stream) = conn else { continue };
                let n = active.fetch_add(1, Ordering::SeqCst);
                let (h, done) = (handler.clone(), active.clone());
                let busy = n >= MAX_CONNECTIONS;
                let spawned = std::thread::Builder::new()
                    .name("oakley-control-conn".into())
                    .spawn(move || {
                        serve(h.as_ref(), stream, busy);
                        done.fetch_sub(1, Ordering::SeqCst);
                    });
                if spawned.is_err() {
                    // No thread: the connection was dropped with the closure.
                    active.fetch_sub(1, Ordering::SeqCst);
                }
            }
        })
        .map_err(io)?;
    Ok(Server { path })
}

/// Root, or the user the daemon runs as.
fn allowed(stream: &UnixStream) -> bool {
    use nix::sys::socket::{getsockopt, sockopt::PeerCredentials};
    match getsockopt(stream, PeerCredentials) {
        Ok(c) => c.uid() == 0 || c.uid() == nix::unistd::geteuid().as_raw(),
        Err(_) => false,
    }
}

fn write_response(w: &mut UnixStream, r: &Response) -> std::io::Result<()> {
    let mut line = serde_json::to_string(r).unwrap_or_else(|e| {
        format!(r#"{{"status":"error","code":"failed","message":"cannot encode the answer: {e}"}}"#)
    });
    line.push('\n');
    w.write_all(line.as_bytes())
}

fn serve(h: &dyn Handler, stream: UnixStream, busy: bool) {
    let Ok(mut writer) = stream.try_clone() else {
        return;
    };
    if !allowed(&stream) {
        let _ = write_response(
            &mut writer,
            &Response::Error {
                code: ErrorCode::Denied,
                message: "the control socket is for root and the daemon's user only".into(),
            },
        );
        return;
    }
    if busy {
        let _ = write_response(
            &mut writer,
            &Response::Error {
                code: ErrorCode::Failed,
                message: format!("too many control connections (limit {MAX_CONNECTIONS})"),
            },
        );
        return;
    }
    let _ = stream.set_read_timeout(Some(IDLE));
    let mut reader = BufReader::new(stream);
    let mut buf = Vec::new();
    loop {
        buf.clear();
        let n = match (&mut reader)
            .take(control::MAX_LINE as u64 + 1)
            .read_until(b'\n', &mut buf)
        {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        let complete = buf.last() == Some(&b'\n');
        if !complete && n > control::MAX_LINE {
            let _ = write_response(
                &mut writer,
                &Response::Error {
                    code: ErrorCode::BadRequest,
                    message: format!("request longer than {} bytes", control::MAX_LINE),
                },
            );
            return;
        }
        let resp = match std::str::from_utf8(&buf) {
            Ok(text) if text.trim().is_empty() => continue,
            Ok(text) => answer_line(h, text.trim()),
            Err(_) => Response::Error {
                code: ErrorCode::BadRequest,
                message: "request is not UTF-8".into(),
            },
        };
        if write_response(&mut writer, &resp).is_err() {
            return;
        }
    }
}

#[cfg(test)]
mod tests;
