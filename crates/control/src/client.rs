//! A blocking client for the control socket: connect, send requests, read replies.

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::proto::{ErrorCode, Reply, Request, Response};
use crate::{MAX_LINE, socket_path};

/// Why a call failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error(
        "oakleyd is not running for state directory {dir} (no daemon listens on {socket}); start it (systemctl start oakleyd) or pass --state-dir / OAKLEY_STATE_DIR of the running daemon"
    )]
    NotRunning { dir: String, socket: String },
    #[error("permission denied on {0}: the control socket is for root (or the daemon's user) only")]
    PermissionDenied(String),
    #[error("control socket {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("the daemon sent an answer this client does not understand: {0}")]
    Protocol(String),
    #[error("{message}")]
    Remote { code: ErrorCode, message: String },
}

pub struct Client {
    path: PathBuf,
    reader: BufReader<UnixStream>,
    writer: UnixStream,
}

impl Client {
    /// Connects to the daemon of `state_dir`.
    pub fn connect(state_dir: &Path) -> Result<Client, ClientError> {
        let path = socket_path(state_dir);
        let stream = UnixStream::connect(&path).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound | std::io::ErrorKind::ConnectionRefused => {
                ClientError::NotRunning {
                    dir: state_dir.display().to_string(),
                    socket: path.display().to_string(),
                }
            }
            std::io::ErrorKind::PermissionDenied => {
                ClientError::PermissionDenied(path.display().to_string())
            }
            _ => ClientError::Io {
                path: path.display().to_string(),
                source: e,
            },
        })?;
        let io = |source| ClientError::Io {
            path: path.display().to_string(),
            source,
        };
        stream
            .set_read_timeout(Some(Duration::from_secs(60)))
            .map_err(io)?;
        let writer = stream.try_clone().map_err(io)?;
        Ok(Client {
            path,
            reader: BufReader::new(stream),
            writer,
        })
    }

    /// Sends one request and waits for its reply.
    pub fn call(&mut self, req: &Request) -> Result<Reply, ClientError> {
        let io = |source| ClientError::Io {
            path: self.path.display().to_string(),
            source,
        };
        let mut line =
            serde_json::to_string(req).map_err(|e| ClientError::Protocol(e.to_string()))?;
        line.push('\n');
        self.writer.write_all(line.as_bytes()).map_err(io)?;
        let mut answer = String::new();
        let n = (&mut self.reader)
            .take(MAX_LINE as u64 + 1)
            .read_line(&mut answer)
            .map_err(|source| ClientError::Io {
                path: self.path.display().to_string(),
                source,
            })?;
        if n == 0 {
            return Err(ClientError::Protocol(
                "the daemon closed the connection without answering".into(),
            ));
        }
        match serde_json::from_str::<Response>(answer.trim_end())
            .map_err(|e| ClientError::Protocol(e.to_string()))?
        {
            Response::Ok { result } => Ok(result),
            Response::Error { code, message } => Err(ClientError::Remote { code, message }),
        }
    }
}
