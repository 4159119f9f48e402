using System.Net;
using Akka.Configuration;

namespace QueueActors.Remote;

/// <summary>
/// The IP networks whose connections the served queue accepts (<c>bluesky-queue.remote.allowed-peers</c>):
/// single addresses (<c>10.0.0.7</c>), CIDR ranges (<c>10.0.0.0/8</c>, <c>fd00::/8</c>), or <c>*</c> for any.
/// </summary>
public sealed class PeerAllowList
{
    private readonly IReadOnlyList<IPNetwork> _networks;

    private PeerAllowList(IReadOnlyList<IPNetwork> networks, bool any, IReadOnlyList<string> entries)
    {
        _networks = networks;
        AllowsAny = any;
        Entries = entries;
    }

    /// <summary>True when every peer is allowed (<c>*</c>).</summary>
    public bool AllowsAny { get; }

    /// <summary>The entries as configured.</summary>
    public IReadOnlyList<string> Entries { get; }

    /// <summary>Parses the entries; a malformed one is a <see cref="ConfigurationException"/> naming it.</summary>
    public static PeerAllowList Parse(IEnumerable<string> entries)
    {
        var list = entries.Select(e => e.Trim()).Where(e => e.Length > 0).ToList();
        var networks = new List<IPNetwork>();
        bool any = false;
        foreach (var entry in list)
        {
            if (entry == "*") any = true;
            else if (!IsFullAddress(entry.Split('/')[0])) throw Bad(entry);
            else if (IPNetwork.TryParse(entry, out var network)) networks.Add(network);
            else if (IPAddress.TryParse(entry, out var address))
                networks.Add(new IPNetwork(address, address.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork ? 32 : 128));
            else throw Bad(entry);
        }
        return new PeerAllowList(networks, any, list);
    }

    // IPAddress.Parse takes "10.0.0" for 10.0.0.0 (and "10" for 0.0.0.10): in an allow-list that is a typo, not a host.
    private static bool IsFullAddress(string address) => address.Contains(':') || address.Count(c => c == '.') == 3;

    private static ConfigurationException Bad(string entry) => new(
        $"bluesky-queue.remote.allowed-peers: '{entry}' is not an IP address, a CIDR range (10.0.0.0/8) or *");

    /// <summary>True when <paramref name="address"/> (IPv4-mapped IPv6 counts as IPv4) is in a listed network.</summary>
    public bool Allows(IPAddress address)
    {
        if (AllowsAny) return true;
        if (address.IsIPv4MappedToIPv6) address = address.MapToIPv4();
        foreach (var network in _networks)
            if (network.Contains(address)) return true;
        return false;
    }

    /// <summary>True when <paramref name="host"/> is an IP literal in a listed network (host names are not trusted).</summary>
    public bool Allows(string? host) =>
        AllowsAny || (host is not null && IPAddress.TryParse(host.Trim('[', ']'), out var ip) && Allows(ip));

    /// <inheritdoc />
    public override string ToString() => Entries.Count == 0 ? "(none)" : string.Join(", ", Entries);
}
