//! A small SMTP client over tokio: EHLO, optional AUTH PLAIN, MAIL, RCPT, DATA, QUIT.
//! Plain SMTP without TLS, for a relay on the county's own network (or a local MTA that
//! relays onward with TLS); documented in docs/ALERTS.md.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

/// One message to send.
pub struct Mail<'a> {
    pub from: &'a str,
    pub to: &'a [String],
    pub subject: &'a str,
    pub body: &'a str,
}

/// Sends `mail` through `server` (HOST:PORT).
pub async fn send(server: &str, user: &str, password: &str, mail: &Mail<'_>) -> Result<(), String> {
    let stream = TcpStream::connect(server)
        .await
        .map_err(|e| format!("connect {server}: {e}"))?;
    let (read, mut write) = stream.into_split();
    let mut lines = BufReader::new(read).lines();
    let mut expect = async |code: &str| -> Result<(), String> {
        loop {
            let line = lines
                .next_line()
                .await
                .map_err(|e| e.to_string())?
                .ok_or("the server closed the connection")?;
            if !line.starts_with(code) {
                return Err(format!("expected {code}, got {line:?}"));
            }
            // "250-..." continues a multi-line reply; "250 ..." ends it.
            if line.as_bytes().get(3) != Some(&b'-') {
                return Ok(());
            }
        }
    };
    expect("220").await?;
    let cmd = async |w: &mut tokio::net::tcp::OwnedWriteHalf, line: String| {
        w.write_all(format!("{line}\r\n").as_bytes())
            .await
            .map_err(|e| e.to_string())
    };
    cmd(&mut write, "EHLO pvledger".into()).await?;
    expect("250").await?;
    if !user.is_empty() {
        let token = STANDARD.encode(format!("\0{user}\0{password}"));
        cmd(&mut write, format!("AUTH PLAIN {token}")).await?;
        expect("235").await?;
    }
    cmd(&mut write, format!("MAIL FROM:<{}>", mail.from)).await?;
    expect("250").await?;
    for to in mail.to {
        cmd(&mut write, format!("RCPT TO:<{to}>")).await?;
        expect("250").await?;
    }
    cmd(&mut write, "DATA".into()).await?;
    expect("354").await?;
    write
        .write_all(message(mail).as_bytes())
        .await
        .map_err(|e| e.to_string())?;
    expect("250").await?;
    cmd(&mut write, "QUIT".into()).await?;
    let _ = expect("221").await;
    Ok(())
}

/// The message with its headers, UTF-8 as base64 (subject as RFC 2047), ending in ".".
pub fn message(mail: &Mail<'_>) -> String {
    let body = STANDARD.encode(mail.body.as_bytes());
    let wrapped: Vec<&str> = body
        .as_bytes()
        .chunks(76)
        .map(|c| std::str::from_utf8(c).unwrap_or(""))
        .collect();
    format!(
        "From: <{}>\r\nTo: {}\r\nSubject: =?UTF-8?B?{}?=\r\nDate: {}\r\nMIME-Version: 1.0\r\n\
         Content-Type: text/plain; charset=UTF-8\r\nContent-Transfer-Encoding: base64\r\n\r\n{}\r\n.\r\n",
        mail.from,
        mail.to
            .iter()
            .map(|t| format!("<{t}>"))
            .collect::<Vec<_>>()
            .join(", "),
        STANDARD.encode(mail.subject.as_bytes()),
        chrono::Utc::now().to_rfc2822(),
        wrapped.join("\r\n"),
    )
}
