use super::*;
use crate::codec::{decode_body, encode_frame};
use crate::request::Request;

fn route(versions: SocksVersions, methods: &str) -> SocksRoute {
    SocksRoute {
        proxy: SocksEndpoint::new(SocksHost::parse("127.0.0.1").unwrap(), DEFAULT_SOCKS_PORT)
            .unwrap(),
        versions,
        methods: SocksMethods::parse(methods).unwrap(),
        destination: SocksEndpoint::new(SocksHost::parse("mail.example").unwrap(), 25).unwrap(),
        username: Some(SocksUser::new("alice").unwrap()),
        password: Some(Secret::new("hunter2").unwrap()),
    }
}

fn rejected<T: fmt::Debug>(r: Result<T, Failure>, needle: &str) {
    match r {
        Err(Failure::InvalidArgument(why)) => {
            assert!(why.contains(needle), "{why:?} lacks {needle:?}")
        }
        other => panic!("expected InvalidArgument({needle:?}), got {other:?}"),
    }
}

#[test]
fn secret_never_prints() {
    let s = Secret::new("hunter2").unwrap();
    assert_eq!(format!("{s:?}"), "***");
    assert_eq!(s.to_string(), "***");
    assert_eq!(s.expose(), "hunter2");
    let request = Request::OpenViaSocks {
        route: Box::new(route(SocksVersions::V5, "2")),
        local: "me".into(),
        debug: false,
    };
    let shown = format!("{request:?} {request:#?}");
    assert!(!shown.contains("hunter2"), "{shown}");
    assert!(shown.contains("alice"));
    rejected(Secret::new("a\0b"), "control character");
    let long = "x".repeat(256);
    match Secret::new(long.clone()) {
        Err(f) => assert!(!f.to_string().contains(&long)),
        Ok(_) => panic!("256-byte password accepted"),
    }
}

#[test]
fn hosts_parse_as_address_or_name() {
    assert_eq!(
        SocksHost::parse("192.0.2.1").unwrap(),
        SocksHost::Ipv4(Ipv4Addr::new(192, 0, 2, 1))
    );
    assert_eq!(
        SocksHost::parse("::1").unwrap(),
        SocksHost::Ipv6(Ipv6Addr::LOCALHOST)
    );
    assert_eq!(
        SocksHost::parse("[::1]").unwrap(),
        SocksHost::Ipv6(Ipv6Addr::LOCALHOST)
    );
    assert!(
        matches!(SocksHost::parse("localhost").unwrap(), SocksHost::Domain(d) if d.as_str() == "localhost")
    );
    rejected(SocksHost::parse(""), "1..=255");
    rejected(SocksHost::parse("host:25"), "':'");
    rejected(SocksHost::parse("ho st"), "whitespace");
    rejected(SocksHost::parse("host\r\n"), "control");
    rejected(SocksHost::parse(&"a".repeat(256)), "1..=255");
    assert!(SocksHost::parse(&"a".repeat(255)).is_ok());
    rejected(
        SocksEndpoint::new(SocksHost::Ipv4(Ipv4Addr::LOCALHOST), 0),
        "port 0",
    );
    let e = SocksEndpoint::new(SocksHost::Ipv6(Ipv6Addr::LOCALHOST), 25).unwrap();
    assert_eq!(e.to_string(), "[::1]:25");
}

#[test]
fn versions_from_bits() {
    assert_eq!(SocksVersions::from_bits(1), Some(SocksVersions::V4));
    assert_eq!(SocksVersions::from_bits(2), Some(SocksVersions::V5));
    assert_eq!(SocksVersions::from_bits(3), Some(SocksVersions::Both));
    assert_eq!(SocksVersions::from_bits(0), None);
    assert_eq!(SocksVersions::from_bits(4), None);
    assert_eq!(SocksVersions::from_bits(-1), None);
    assert!(SocksVersions::Both.allows_v4() && SocksVersions::Both.allows_v5());
    assert!(!SocksVersions::V4.allows_v5() && !SocksVersions::V5.allows_v4());
}

#[test]
fn methods_keep_order_and_refuse_junk() {
    let m = SocksMethods::parse("20").unwrap();
    assert_eq!(
        m.as_slice(),
        &[SocksMethod::UsernamePassword, SocksMethod::NoAuth]
    );
    rejected(SocksMethods::parse(""), "no SOCKS5 method");
    rejected(SocksMethods::parse("00"), "twice");
    rejected(SocksMethods::parse("3"), "unknown");
    rejected(SocksMethods::parse("0 "), "unknown");
    assert_eq!(SocksMethods::no_auth().as_slice(), &[SocksMethod::NoAuth]);
}

#[test]
fn cross_field_rules() {
    assert_eq!(route(SocksVersions::V5, "02").check(), Ok(()));
    rejected(
        route(SocksVersions::V5, "1").check(),
        "GSSAPI is not supported",
    );
    rejected(
        route(SocksVersions::Both, "1").check(),
        "GSSAPI is not supported",
    );
    assert_eq!(route(SocksVersions::V5, "12").check(), Ok(()));
    // SOCKS4 ignores the methods.
    assert_eq!(route(SocksVersions::V4, "1").check(), Ok(()));
    let mut r = route(SocksVersions::V5, "2");
    r.password = None;
    rejected(r.check(), "method 2 needs");
    let mut r = route(SocksVersions::V5, "0");
    r.password = None;
    r.username = None;
    assert_eq!(r.check(), Ok(()));
    let mut r = route(SocksVersions::V4, "0");
    r.destination.host = SocksHost::Ipv6(Ipv6Addr::LOCALHOST);
    rejected(r.check(), "IPv6");
    r.versions = SocksVersions::Both;
    assert_eq!(r.check(), Ok(()));
}

#[test]
fn round_trips_and_decoding_checks_the_rules() {
    let request = Request::OpenViaSocks {
        route: Box::new(route(SocksVersions::Both, "02")),
        local: "me".into(),
        debug: true,
    };
    let mut bytes = Vec::new();
    encode_frame(&request, &mut bytes).unwrap();
    let back: Request = decode_body(&bytes[4..]).unwrap();
    assert_eq!(back, request);

    // A peer that sends a bad value by hand is refused at decoding.
    #[derive(Serialize)]
    struct Raw(String);
    for bad in ["", "a b"] {
        let mut bytes = Vec::new();
        encode_frame(&Raw(bad.into()), &mut bytes).unwrap();
        assert!(decode_body::<DomainName>(&bytes[4..]).is_err(), "{bad:?}");
    }
    let mut bytes = Vec::new();
    encode_frame(&Vec::<SocksMethod>::new(), &mut bytes).unwrap();
    assert!(decode_body::<SocksMethods>(&bytes[4..]).is_err());
    let mut bytes = Vec::new();
    encode_frame(&0u16, &mut bytes).unwrap();
    assert!(decode_body::<NonZeroU16>(&bytes[4..]).is_err());
}
