//! Fn::Cidr: split an IPv4 or IPv6 block into `count` blocks with
//! `cidr_bits` host bits each (new prefix = 32 or 128 − cidr_bits).

use std::net::{Ipv4Addr, Ipv6Addr};

pub fn cidr(ip_block: &str, count: i64, cidr_bits: i64) -> Result<Vec<String>, String> {
    let (addr, prefix) = ip_block
        .split_once('/')
        .ok_or_else(|| format!("Fn::Cidr ipBlock {ip_block} is not a valid CIDR block"))?;
    let prefix: u32 = prefix
        .parse()
        .map_err(|_| format!("Fn::Cidr ipBlock {ip_block} is not a valid CIDR block"))?;
    if !(1..=256).contains(&count) {
        return Err("Fn::Cidr count must be between 1 and 256".to_string());
    }
    let (width, base): (u32, u128) = if let Ok(v4) = addr.parse::<Ipv4Addr>() {
        (32, u128::from(u32::from(v4)))
    } else if let Ok(v6) = addr.parse::<Ipv6Addr>() {
        (128, u128::from(v6))
    } else {
        return Err(format!(
            "Fn::Cidr ipBlock {ip_block} is not a valid CIDR block"
        ));
    };
    if prefix > width {
        return Err(format!(
            "Fn::Cidr ipBlock {ip_block} is not a valid CIDR block"
        ));
    }
    let bits = u32::try_from(cidr_bits)
        .ok()
        .filter(|b| *b >= 1 && *b <= width - prefix)
        .ok_or_else(|| {
            format!(
                "Fn::Cidr cidrBits {cidr_bits} is invalid for {ip_block}: must be between 1 and {}",
                width - prefix
            )
        })?;
    let new_prefix = width - bits;
    // Number of subnets available: 2^(new_prefix - prefix).
    let avail_bits = new_prefix - prefix;
    let count_u = u128::try_from(count).unwrap_or(0);
    if avail_bits < 64 && count_u > (1u128 << avail_bits) {
        return Err(format!(
            "Fn::Cidr cannot create {count} blocks of /{new_prefix} in {ip_block}"
        ));
    }
    let host_mask: u128 = if width - prefix >= 128 {
        u128::MAX
    } else {
        (1u128 << (width - prefix)) - 1
    };
    let network = base & !host_mask;
    let step: u128 = 1u128 << bits.min(127);
    let mut out = Vec::with_capacity(count_u as usize);
    for i in 0..count_u {
        let a = network + i * step;
        let s = if width == 32 {
            Ipv4Addr::from(u32::try_from(a).unwrap_or(0)).to_string()
        } else {
            Ipv6Addr::from(a).to_string()
        };
        out.push(format!("{s}/{new_prefix}"));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::cidr;

    #[test]
    fn aws_documented_example() {
        assert_eq!(
            cidr("192.168.0.0/24", 6, 5).unwrap(),
            vec![
                "192.168.0.0/27",
                "192.168.0.32/27",
                "192.168.0.64/27",
                "192.168.0.96/27",
                "192.168.0.128/27",
                "192.168.0.160/27"
            ]
        );
    }

    #[test]
    fn vpc_subnets_and_host_bits_masked() {
        assert_eq!(
            cidr("10.0.5.7/16", 3, 8).unwrap(),
            vec!["10.0.0.0/24", "10.0.1.0/24", "10.0.2.0/24"]
        );
        assert_eq!(cidr("10.0.0.0/16", 1, 16).unwrap(), vec!["10.0.0.0/16"]);
    }

    #[test]
    fn ipv6() {
        assert_eq!(
            cidr("2600:1f16:abc:de00::/56", 3, 64).unwrap(),
            vec![
                "2600:1f16:abc:de00::/64",
                "2600:1f16:abc:de01::/64",
                "2600:1f16:abc:de02::/64"
            ]
        );
    }

    #[test]
    fn errors() {
        assert!(cidr("192.168.0.0/24", 0, 5)
            .unwrap_err()
            .contains("between 1 and 256"));
        assert!(cidr("192.168.0.0/24", 257, 5).is_err());
        assert!(cidr("192.168.0.0/24", 9, 5)
            .unwrap_err()
            .contains("cannot create 9"));
        assert!(cidr("192.168.0.0/24", 1, 9)
            .unwrap_err()
            .contains("cidrBits 9"));
        assert!(cidr("192.168.0.0/24", 1, 0).is_err());
        assert!(cidr("nonsense", 1, 1).is_err());
        assert!(cidr("10.0.0.0/33", 1, 1).is_err());
    }
}
