using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Akka.Actor;
using QueueActors.Storage.Tests;
using Xunit;

namespace QueueActors.Remote.Tests;

/// <summary>The TLS settings of <c>hocon/remote.hocon</c>, turned on from HOCON on both sides.</summary>
public sealed class TlsTests : IDisposable
{
    private readonly TempDb _folder = new();
    private readonly string _certificate;

    public TlsTests()
    {
        // A self-signed certificate usable by both ends (mutual TLS is Akka's default).
        using var key = RSA.Create(2048);
        var request = new CertificateRequest("CN=bluesky-queue-test", key, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension(
            [new Oid("1.3.6.1.5.5.7.3.1"), new Oid("1.3.6.1.5.5.7.3.2")], critical: false));
        var san = new SubjectAlternativeNameBuilder();
        san.AddIpAddress(System.Net.IPAddress.Loopback);
        request.CertificateExtensions.Add(san.Build());
        using var certificate = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(1));
        _certificate = _folder.PathOf("queue.pfx");
        File.WriteAllBytes(_certificate, certificate.Export(X509ContentType.Pfx, "secret"));
    }

    // suppress-validation only because the test certificate is self-signed: never in production.
    private string TlsHocon => $$"""
        akka.remote.dot-netty.tcp {
          enable-ssl = true
          ssl {
            certificate { path = "{{_certificate.Replace("\\", "\\\\")}}", password = "secret" }
            suppress-validation = true
          }
        }
        """;

    [Fact]
    public async Task With_TLS_on_both_sides_a_poster_is_served()
    {
        await using var service = await ServedQueue.StartAsync(hocon: TlsHocon);
        await using var poster = await PosterHost.StartAsync(service.Address, hocon: TlsHocon);
        var id = await poster.Client.EnqueueAsync(Remote.JobFor(Remote.Alice));
        Assert.Equal(id, (await poster.Client.ClaimNextAsync())!.Id);
    }

    [Fact]
    public async Task A_poster_without_TLS_is_not_served_by_a_TLS_service()
    {
        await using var service = await ServedQueue.StartAsync(hocon: TlsHocon);
        await using var poster = await PosterHost.StartAsync(service.Address);
        var client = new QueueClient(poster.Queue, TimeSpan.FromSeconds(3), retries: 0);
        await Assert.ThrowsAsync<AskTimeoutException>(() => client.EnqueueAsync(Remote.JobFor(Remote.Alice)));
        Assert.Equal(new Storage.QueueStats(0, 0, 0, 0), await service.StatsFromDbAsync());
    }

    public void Dispose() => _folder.Dispose();
}
