//! `smtp_fw_helo`: opening an SMTP connection through a SOCKS4, SOCKS4a or
//! SOCKS5 proxy, with the manual's `fw_param` structure.
//!
//! The C fields are read into the checked [`SocksRoute`] and handed to
//! [`Client::fw_helo`](crate::Client::fw_helo); every rule about which field
//! is needed when (the manual's "Remarks") is applied here, and a field that
//! breaks one is `SMTP_INVALID_ARGUMENT`. Return codes, beyond those of
//! `smtp_helo`: a proxy that answers but refuses (no common version or
//! method, a wrong password, a refused destination) is `SMTP_FAILURE` with
//! no server reply; an unreachable proxy is `SMTP_HOST_NOT_RESPONDING`; an
//! unresolvable proxy name is `SMTP_UNKNOWN_HOST`.

use super::session::{open_begins, open_failed, opened};
use super::state::{self, CCallbacks};
use super::types::{SmtpDebugProc, SMTP_HANDLE};
use super::util::{c_str, flat, guard, opt_c_str, rc, OK};
use crate::socks::{
    Secret, SocksEndpoint, SocksHost, SocksMethod, SocksMethods, SocksRoute, SocksUser,
    SocksVersions, DEFAULT_SOCKS_PORT,
};
use crate::ReturnCode;
use smtp32_protocol::Failure;
use std::mem::size_of;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::os::raw::{c_char, c_int, c_uchar, c_ushort};

/// `socks_ver` bit: SOCKS version 4 (SOCKS4a for `FW_ADDR_DNS`).
pub const FW_VERSION4: c_int = SocksVersions::BIT_V4;
/// `socks_ver` bit: SOCKS version 5. Both bits: try 5, fall back to 4.
pub const FW_VERSION5: c_int = SocksVersions::BIT_V5;
/// `addr_type`: `dest_host` is an IPv4 address.
pub const FW_ADDR_IP4: c_uchar = 1;
/// `addr_type`: `domain_name` is a DNS name, resolved by the proxy.
pub const FW_ADDR_DNS: c_uchar = 3;
/// `addr_type`: `dest_host` is an IPv6 address (SOCKS5 only).
pub const FW_ADDR_IP6: c_uchar = 4;

/// Bytes of `fw_param` after its fields, so that it is 256 bytes of fields
/// and padding as in the manual.
pub const FW_RESERVED_BYTES: usize = 256
    - 6 * size_of::<*const c_char>()
    - 2 * size_of::<c_uchar>()
    - 2 * size_of::<c_ushort>()
    - size_of::<c_int>();

/// The manual's `fw_param`. String pointers not needed are NULL.
#[repr(C)]
#[allow(non_camel_case_types)]
pub struct fw_param {
    /// SOCKS5 methods as characters: `'0'` none, `'1'` GSSAPI (refused), `'2'` user/password.
    pub methods: *const c_char,
    /// How many characters of `methods` to read (at most the string's length).
    pub n_methods: c_uchar,
    /// `FW_ADDR_IP4`, `FW_ADDR_DNS` or `FW_ADDR_IP6`.
    pub addr_type: c_uchar,
    /// The destination's DNS name, for `FW_ADDR_DNS`.
    pub domain_name: *const c_char,
    /// The proxy's address or name.
    pub fw_host: *const c_char,
    /// The destination's IP address, for `FW_ADDR_IP4` / `FW_ADDR_IP6`.
    pub dest_host: *const c_char,
    /// The proxy's port, host byte order; 0 means 1080.
    pub fw_port: c_ushort,
    /// The SMTP server's port, host byte order (not 0).
    pub dest_port: c_ushort,
    /// SOCKS4 user id, or the user name for SOCKS5 method 2.
    pub username: *const c_char,
    /// The password for SOCKS5 method 2.
    pub passwd: *const c_char,
    /// `FW_VERSION4`, `FW_VERSION5` or both.
    pub socks_ver: c_int,
    /// Unused; keeps the manual's size.
    pub reserved: [c_char; FW_RESERVED_BYTES],
}

/// `smtp_fw_helo`: connects to the SMTP server named in `fw` through the
/// SOCKS proxy named in `fw`, reads the greeting and sends EHLO `local`
/// (HELO when EHLO is refused); on success stores the new handle in `*conn`.
/// `proc_` (may be NULL) receives a copy of the SMTP traffic, never the proxy
/// handshake, on the thread that reads the daemon's answers, with `lparam`.
///
/// # Safety
/// `local` is a NUL-terminated string; `conn` points to writable storage for
/// one handle; `fw` points to a valid `fw_param` whose string pointers are
/// NULL or NUL-terminated strings.
#[no_mangle]
pub unsafe extern "C" fn smtp_fw_helo(
    local: *const c_char,
    conn: *mut SMTP_HANDLE,
    proc_: SmtpDebugProc,
    lparam: usize,
    fw: *const fw_param,
) -> c_int {
    // SAFETY: forwarded contract.
    guard(|| flat(unsafe { fw_helo(local, conn, proc_, lparam, fw) }))
}

unsafe fn fw_helo(
    local: *const c_char,
    conn: *mut SMTP_HANDLE,
    proc_: SmtpDebugProc,
    lparam: usize,
    fw: *const fw_param,
) -> Result<c_int, c_int> {
    open_begins();
    if conn.is_null() || fw.is_null() {
        return Err(rc(ReturnCode::InvalidArgument));
    }
    // SAFETY: the caller passes NUL-terminated strings and a valid fw_param.
    let (local, route) = unsafe { (c_str(local)?, read_route(&*fw)?) };
    let client = state::client().map_err(|e| open_failed(&e))?;
    let cbs = CCallbacks::new(lparam, proc_, None, conn);
    let _conn_out = cbs.conn_out_scope();
    let debug = proc_.map(|_| cbs.debug_callback());
    let c = client
        .fw_helo(route, local, debug)
        .map_err(|e| open_failed(&e))?;
    opened(c, &cbs);
    Ok(OK)
}

/// The route the C fields describe; any field that breaks a rule is `SMTP_INVALID_ARGUMENT`.
///
/// # Safety
/// The string pointers of `fw` are NULL or NUL-terminated strings.
unsafe fn read_route(fw: &fw_param) -> Result<SocksRoute, c_int> {
    let invalid = |_: Failure| rc(ReturnCode::InvalidArgument);
    let versions = SocksVersions::from_bits(fw.socks_ver).ok_or(rc(ReturnCode::InvalidArgument))?;
    // SAFETY: a string pointer of `fw`: NULL or NUL-terminated, by this function's contract.
    let fw_host = unsafe { c_str(fw.fw_host)? };
    let port = if fw.fw_port == 0 {
        DEFAULT_SOCKS_PORT
    } else {
        fw.fw_port
    };
    let proxy =
        SocksEndpoint::new(SocksHost::parse(fw_host).map_err(invalid)?, port).map_err(invalid)?;
    let host = match fw.addr_type {
        FW_ADDR_IP4 => {
            // SAFETY: a string pointer of `fw`: NULL or NUL-terminated, by this function's contract.
            let text = unsafe { c_str(fw.dest_host)? };
            SocksHost::Ipv4(
                text.parse::<Ipv4Addr>()
                    .map_err(|_| rc(ReturnCode::InvalidArgument))?,
            )
        }
        FW_ADDR_IP6 => {
            // SAFETY: a string pointer of `fw`: NULL or NUL-terminated, by this function's contract.
            let text = unsafe { c_str(fw.dest_host)? };
            let bare = text
                .strip_prefix('[')
                .and_then(|t| t.strip_suffix(']'))
                .unwrap_or(text);
            SocksHost::Ipv6(
                bare.parse::<Ipv6Addr>()
                    .map_err(|_| rc(ReturnCode::InvalidArgument))?,
            )
        }
        // An address literal given as a "domain" is sent as the address.
        FW_ADDR_DNS => {
            // SAFETY: a string pointer of `fw`: NULL or NUL-terminated, by this function's contract.
            let name = unsafe { c_str(fw.domain_name)? };
            SocksHost::parse(name).map_err(invalid)?
        }
        _ => return Err(rc(ReturnCode::InvalidArgument)),
    };
    let destination = SocksEndpoint::new(host, fw.dest_port).map_err(invalid)?;
    let methods = if versions.allows_v5() {
        // SAFETY: a string pointer of `fw`: NULL or NUL-terminated, by this function's contract.
        let text = unsafe { c_str(fw.methods)? };
        let n = usize::from(fw.n_methods);
        let text = text
            .get(..n)
            .filter(|_| n > 0)
            .ok_or(rc(ReturnCode::InvalidArgument))?;
        SocksMethods::parse(text).map_err(invalid)?
    } else {
        // The manual: methods are needed only for version 5.
        SocksMethods::no_auth()
    };
    // SAFETY: a string pointer of `fw`: NULL or NUL-terminated, by this function's contract.
    let username = unsafe { opt_c_str(fw.username)? }.filter(|u| !u.is_empty());
    let username = username.map(SocksUser::new).transpose().map_err(invalid)?;
    // The password matters only for method 2; any other route ignores it, as the manual says.
    // SAFETY: a string pointer of `fw`: NULL or NUL-terminated, by this function's contract.
    let password = unsafe { opt_c_str(fw.passwd)? };
    let password = match password {
        Some(p) if !p.is_empty() && methods.contains(SocksMethod::UsernamePassword) => {
            Some(Secret::new(p).map_err(invalid)?)
        }
        _ => None,
    };
    let route = SocksRoute {
        proxy,
        versions,
        methods,
        destination,
        username,
        password,
    };
    route.check().map_err(invalid)?;
    Ok(route)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::CString;

    #[test]
    fn fw_param_has_the_manuals_size_of_fields() {
        assert_eq!(
            FW_RESERVED_BYTES + 6 * size_of::<*const c_char>() + 2 + 4 + size_of::<c_int>(),
            256
        );
        // What gcc makes of the header's struct on LP64 (checked with _Static_assert in C).
        #[cfg(target_pointer_width = "64")]
        {
            assert_eq!(size_of::<fw_param>(), 272);
            assert_eq!(std::mem::offset_of!(fw_param, fw_port), 40);
            assert_eq!(std::mem::offset_of!(fw_param, username), 48);
            assert_eq!(std::mem::offset_of!(fw_param, socks_ver), 64);
            assert_eq!(std::mem::offset_of!(fw_param, reserved), 68);
        }
    }

    struct Strings(Vec<CString>);
    impl Strings {
        fn p(&mut self, s: &str) -> *const c_char {
            self.0.push(CString::new(s).unwrap());
            self.0.last().unwrap().as_ptr()
        }
    }

    fn param(s: &mut Strings) -> fw_param {
        fw_param {
            methods: s.p("02"),
            n_methods: 2,
            addr_type: FW_ADDR_DNS,
            domain_name: s.p("mail.example"),
            fw_host: s.p("127.0.0.1"),
            dest_host: std::ptr::null(),
            fw_port: 0,
            dest_port: 25,
            username: s.p("alice"),
            passwd: s.p("pw"),
            socks_ver: FW_VERSION4 | FW_VERSION5,
            reserved: [0; FW_RESERVED_BYTES],
        }
    }

    fn read(fw: &fw_param) -> Result<SocksRoute, c_int> {
        // SAFETY: every pointer is NULL or a live CString.
        unsafe { read_route(fw) }
    }

    #[test]
    fn reads_the_manuals_fields() {
        let mut s = Strings(vec![]);
        let fw = param(&mut s);
        let r = read(&fw).unwrap();
        assert_eq!(r.proxy.port.get(), 1080, "fw_port 0 means 1080");
        assert_eq!(r.versions, SocksVersions::Both);
        assert_eq!(
            r.methods.as_slice(),
            &[SocksMethod::NoAuth, SocksMethod::UsernamePassword]
        );
        assert!(
            matches!(r.destination.host, SocksHost::Domain(ref d) if d.as_str() == "mail.example")
        );
        assert_eq!(r.password.as_ref().map(|p| p.expose()), Some("pw"));
    }

    #[test]
    fn n_methods_limits_the_string_and_gssapi_alone_is_refused() {
        let mut s = Strings(vec![]);
        let mut fw = param(&mut s);
        fw.n_methods = 1;
        assert_eq!(
            read(&fw).unwrap().methods.as_slice(),
            &[SocksMethod::NoAuth]
        );
        fw.n_methods = 3;
        assert_eq!(
            read(&fw).err(),
            Some(rc(ReturnCode::InvalidArgument)),
            "n_methods past the string"
        );
        fw.n_methods = 0;
        assert_eq!(read(&fw).err(), Some(rc(ReturnCode::InvalidArgument)));
        fw.methods = s.p("1");
        fw.n_methods = 1;
        assert_eq!(
            read(&fw).err(),
            Some(rc(ReturnCode::InvalidArgument)),
            "GSSAPI alone"
        );
    }

    #[test]
    fn version_4_needs_no_methods_and_refuses_ipv6() {
        let mut s = Strings(vec![]);
        let mut fw = param(&mut s);
        fw.socks_ver = FW_VERSION4;
        fw.methods = std::ptr::null();
        fw.passwd = std::ptr::null();
        assert!(read(&fw).is_ok());
        fw.addr_type = FW_ADDR_IP6;
        fw.dest_host = s.p("::1");
        assert_eq!(read(&fw).err(), Some(rc(ReturnCode::InvalidArgument)));
        fw.socks_ver = FW_VERSION5;
        fw.methods = s.p("0");
        fw.n_methods = 1;
        assert!(matches!(
            read(&fw).unwrap().destination.host,
            SocksHost::Ipv6(_)
        ));
    }

    #[test]
    fn bad_fields_are_invalid_arguments() {
        let mut s = Strings(vec![]);
        for change in [
            (|fw: &mut fw_param, _: &mut Strings| fw.socks_ver = 0)
                as fn(&mut fw_param, &mut Strings),
            |fw, _| fw.socks_ver = 8,
            |fw, _| fw.addr_type = 2,
            |fw, _| fw.dest_port = 0,
            |fw, _| fw.fw_host = std::ptr::null(),
            |fw, _| fw.domain_name = std::ptr::null(),
            |fw, s| fw.domain_name = s.p("bad name"),
            |fw, s| {
                fw.addr_type = FW_ADDR_IP4;
                fw.dest_host = s.p("not-an-ip");
            },
            |fw, _| fw.passwd = std::ptr::null(),
            |fw, s| fw.methods = s.p("9"),
        ] {
            let mut fw = param(&mut s);
            change(&mut fw, &mut s);
            assert_eq!(read(&fw).err(), Some(rc(ReturnCode::InvalidArgument)));
        }
    }
}
