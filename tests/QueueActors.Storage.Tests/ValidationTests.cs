using Xunit;

namespace QueueActors.Storage.Tests;

public sealed class ValidationTests : IDisposable
{
    private const string Uri = "at://did:plc:ptenb53qybtyitgeylzid7it/app.bsky.feed.post/3mupdbnq3hd25";
    private const string Cid = "bafyreidtvgjez6tvkucznfwb6nfrtaeybyw7iojyjampd2yf26j7z2e7ui";

    private static readonly byte[] JpegHeader = [0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x10, (byte)'J', (byte)'F', (byte)'I', (byte)'F', 0, 1];
    private static readonly byte[] PngHeader = [0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A, 0, 0, 0, 13];

    private readonly string _folder = Path.Combine(Path.GetTempPath(), "queueactors-validation-tests", Guid.NewGuid().ToString("N"));

    public ValidationTests() => Directory.CreateDirectory(_folder);

    public void Dispose()
    {
        try
        {
            Directory.Delete(_folder, recursive: true);
        }
        catch (IOException)
        {
            // best effort
        }
    }

    private static NewJob Job(string text = "hello", string handle = "alice.example.com") =>
        new() { Text = text, ExpectedHandle = handle };

    private static ArgumentException Invalid(NewJob job, string paramName, long maxImageBytes = JobValidator.DefaultMaxImageBytes)
    {
        var e = Assert.ThrowsAny<ArgumentException>(() => JobValidator.Validate(job, maxImageBytes));
        Assert.Equal(paramName, e.ParamName);
        return e;
    }

    private string File(string name, byte[] content, long? length = null)
    {
        var path = Path.Combine(_folder, name);
        using var stream = System.IO.File.Create(path);
        stream.Write(content);
        if (length is { } l)
        {
            stream.SetLength(l);
        }

        return path;
    }

    // ---- handle ----

    [Theory]
    [InlineData("alice.example.com", "alice.example.com")]
    [InlineData("@Alice.Example.COM", "alice.example.com")]
    [InlineData("BOB.EXAMPLE.ORG", "bob.example.org")]
    [InlineData("@studio.art.example.com", "studio.art.example.com")]
    [InlineData("xn--bcher-kva.example.com", "xn--bcher-kva.example.com")]
    [InlineData("dan.test", "dan.test")]
    [InlineData("a.co", "a.co")]
    [InlineData("1password.com", "1password.com")]
    [InlineData("k8s-notes.example.com", "k8s-notes.example.com")]
    [InlineData("example.com", "example.com")]
    [InlineData("alice.example.b1", "alice.example.b1")]
    public void Valid_handles_are_normalized(string handle, string expected)
    {
        Assert.Equal(expected, JobValidator.NormalizeHandle(handle));
    }

    [Fact]
    public void Handle_length_limits_are_inclusive()
    {
        var label63 = new string('a', 63);
        Assert.Equal(label63 + ".com", JobValidator.NormalizeHandle(label63 + ".com"));

        var handle253 = string.Join('.', Enumerable.Repeat(new string('a', 49), 5)) + ".com"; // 5*50 + 3 = 253
        Assert.Equal(253, handle253.Length);
        Assert.Equal(handle253, JobValidator.NormalizeHandle(handle253));

        var e = Assert.Throws<ArgumentException>(() => JobValidator.NormalizeHandle("b" + handle253));
        Assert.Contains("254 characters long; the limit is 253", e.Message);

        e = Assert.Throws<ArgumentException>(() => JobValidator.NormalizeHandle(new string('a', 64) + ".example.com"));
        Assert.Contains("64 characters long; the limit is 63", e.Message);
    }

    [Theory]
    [InlineData("", "it is empty")]
    [InlineData("@", "it is empty")]
    [InlineData("@@alice.example.com", "only one leading '@'")]
    [InlineData("alice@example.com", "email address")]
    [InlineData("alice", "single label")]
    [InlineData(".alice.example.com", "starts with a dot")]
    [InlineData("alice.example.com.", "ends with a dot")]
    [InlineData("-alice.example.com", "label '-alice' starts with a hyphen")]
    [InlineData("alice-.example.com", "label 'alice-' ends with a hyphen")]
    [InlineData("alice.example.123", "top-level domain '123' starts with a digit")]
    [InlineData("ålice.example.com", "non-ASCII character 'å'")]
    [InlineData("alice_bob.example.com", "character '_'")]
    [InlineData(" alice.example.com", "whitespace")]
    [InlineData("alice.example.com ", "whitespace")]
    [InlineData("alice.exa\tmple.com", "U+0009")]
    [InlineData("did:plc:ptenb53qybtyitgeylzid7it", "a DID is not a handle")]
    [InlineData("bob.example", "'.example' is reserved")]
    [InlineData("Bob.EXAMPLE", "'.example' is reserved")]
    [InlineData("laptop.local", "'.local' is reserved")]
    [InlineData("handle.invalid", "'.invalid' is reserved")]
    [InlineData("ghost.onion", "'.onion' is reserved")]
    [InlineData("x.alt", "'.alt' is reserved")]
    [InlineData("x.arpa", "'.arpa' is reserved")]
    [InlineData("x.internal", "'.internal' is reserved")]
    [InlineData("x.localhost", "'.localhost' is reserved")]
    public void Invalid_handles_are_rejected_with_the_reason(string handle, string reasonPart)
    {
        var e = Assert.Throws<ArgumentException>(() => JobValidator.NormalizeHandle(handle));
        Assert.Equal("ExpectedHandle", e.ParamName);
        Assert.StartsWith("expected_handle '", e.Message);
        Assert.Contains("is not a valid handle", e.Message);
        Assert.Contains(reasonPart, e.Message);

        // Validate reports the same.
        var v = Invalid(Job(handle: handle), "ExpectedHandle");
        Assert.Contains(reasonPart, v.Message);
    }

    [Fact]
    public void Handle_message_matches_the_documented_example()
    {
        var e = Assert.Throws<ArgumentException>(() => JobValidator.NormalizeHandle("alice..example.com"));
        Assert.StartsWith("expected_handle 'alice..example.com' is not a valid handle: empty label", e.Message);
    }

    [Fact]
    public void A_missing_handle_is_rejected()
    {
        var e = Assert.Throws<ArgumentException>(() => JobValidator.NormalizeHandle(null));
        Assert.Equal("ExpectedHandle", e.ParamName);
        Assert.Contains("expected_handle is missing", e.Message);
        Invalid(Job(handle: null!), "ExpectedHandle");
    }

    [Fact]
    public void Validate_returns_the_job_with_the_handle_normalized_and_the_text_untouched()
    {
        const string text = "  Hi\r\n there\u00A0 ";
        var job = Job(text, "@Alice.Example.COM") with { DryRun = true, MaxAttempts = 7, IdempotencyKey = "k" };
        var valid = JobValidator.Validate(job);
        Assert.Equal("alice.example.com", valid.ExpectedHandle);
        Assert.Same(job.Text, valid.Text);
        Assert.Equal(job with { ExpectedHandle = "alice.example.com" }, valid);
    }

    // ---- text ----

    [Fact]
    public void Unpaired_surrogates_are_rejected()
    {
        // Not a [Theory]: xunit's test-case serialization would replace lone surrogates with U+FFFD.
        (string Text, string ReasonPart)[] cases =
        [
            ("broken \uD83D end", "U+D83D at index 7"),
            ("ends with half \uD83D", "U+D83D at index 15"),
            ("\uDE00 starts with a low half", "U+DE00 at index 0"),
            ("reversed \uDE00\uD83D pair", "U+DE00 at index 9"),
        ];
        foreach (var (text, reasonPart) in cases)
        {
            var e = Invalid(Job(text), nameof(NewJob.Text));
            Assert.Contains("text contains an unpaired UTF-16 surrogate", e.Message);
            Assert.Contains(reasonPart, e.Message);
        }
    }

    [Fact]
    public void Paired_surrogates_are_fine()
    {
        JobValidator.Validate(Job("emoji \uD83D\uDE00 ok"));
    }

    [Theory]
    [InlineData("", "text is empty and there is no image")]
    [InlineData("   \n\t  ", "text is only whitespace and there is no image")]
    [InlineData("\u00A0\u2003", "text is only whitespace and there is no image")]
    public void Empty_text_without_image_is_rejected(string text, string message)
    {
        var e = Invalid(Job(text), nameof(NewJob.Text));
        Assert.Contains(message, e.Message);
    }

    [Theory]
    [InlineData("")]
    [InlineData("  \n ")]
    public void Empty_text_with_an_image_is_fine(string text)
    {
        var path = File("photo.jpg", JpegHeader);
        Assert.Equal(text, JobValidator.Validate(Job(text) with { ImagePath = path }).Text);
    }

    [Fact]
    public void Text_of_300_graphemes_is_fine_and_301_is_rejected()
    {
        JobValidator.Validate(Job(new string('a', 300)));
        JobValidator.Validate(Job(string.Concat(Enumerable.Repeat("क्ष", 300)))); // 900 chars, 2700 bytes

        var e = Invalid(Job(new string('a', 301)), nameof(NewJob.Text));
        Assert.Contains("text has 301 graphemes; the limit is 300", e.Message);

        e = Invalid(Job(string.Concat(Enumerable.Repeat("क्ष", 301))), nameof(NewJob.Text));
        Assert.Contains("text has 301 graphemes; the limit is 300", e.Message);
    }

    [Fact]
    public void Text_of_3000_bytes_is_fine_and_3001_is_rejected()
    {
        var family = "👨\u200D👩\u200D👧\u200D👦"; // 25 UTF-8 bytes, one grapheme
        var text = string.Concat(Enumerable.Repeat(family, 120));
        Assert.Equal(3000, System.Text.Encoding.UTF8.GetByteCount(text));
        JobValidator.Validate(Job(text));

        var e = Invalid(Job(text + "a"), nameof(NewJob.Text));
        Assert.Contains("text is 3001 UTF-8 bytes; the limit is 3000", e.Message);
    }

    [Fact]
    public void A_missing_text_is_rejected()
    {
        var e = Invalid(Job(null!), nameof(NewJob.Text));
        Assert.Contains("text is missing", e.Message);
    }

    // ---- reply ----

    [Theory]
    [InlineData(Uri)]
    [InlineData("at://did:web:digest.news.example.org/app.bsky.feed.post/3my6k2zbkamct")]
    [InlineData("at://carol.example.net/app.bsky.feed.post/3mwjfsiohrep5")]
    [InlineData("at://Carol.Example.NET/app.bsky.feed.post/3mwjfsiohrep5")]
    [InlineData("at://did:plc:ptenb53qybtyitgeylzid7it/app.bsky.feed.post/self")]
    [InlineData("at://did:plc:ptenb53qybtyitgeylzid7it/app.bsky.feed.post/a.b_c:d~e-f")]
    public void Valid_reply_uris_are_accepted(string uri)
    {
        var job = JobValidator.Validate(Job() with { ReplyToUri = uri, ReplyToCid = Cid });
        Assert.Equal(uri, job.ReplyToUri);
    }

    [Fact]
    public void A_reply_needs_both_uri_and_cid()
    {
        var e = Invalid(Job() with { ReplyToUri = Uri }, "ReplyToCid");
        Assert.Contains("reply_to_uri is set but reply_to_cid is missing", e.Message);

        e = Invalid(Job() with { ReplyToCid = Cid }, "ReplyToUri");
        Assert.Contains("reply_to_cid is set but reply_to_uri is missing", e.Message);
    }

    [Theory]
    [InlineData("https://bsky.app/profile/carol.example.net/post/3mupdbnq3hd25", "web URL")]
    [InlineData("at://did:plc:ptenb53qybtyitgeylzid7it/app.bsky.feed.post/3mupdbnq3hd25/", "ends with a slash")]
    [InlineData("at://did:plc:ptenb53qybtyitgeylzid7it/app.bsky.feed.post", "record key is missing")]
    [InlineData("at://did:plc:ptenb53qybtyitgeylzid7it", "collection and record key are missing")]
    [InlineData("at://did:plc:ptenb53qybtyitgeylzid7it/app.bsky.feed.post/a/b", "too many path segments")]
    [InlineData("AT://did:plc:ptenb53qybtyitgeylzid7it/app.bsky.feed.post/3mupdbnq3hd25", "lower case 'at://'")]
    [InlineData("at://did:plc:ptenb53qybtyitgeylzid7it/app.bsky.feed.post/3mupdbnq3hd25?ref=share", "query string")]
    [InlineData("at://did:plc:ptenb53qybtyitgeylzid7it/app.bsky.feed.post/3mupdbnq3hd25#x", "fragment")]
    [InlineData("at://did:plc:ptenb53qybtyitgeylzid7it /app.bsky.feed.post/3mupdbnq3hd25", "whitespace")]
    [InlineData("at://did:plc:ptenb53qybtyitgeylzid7it/app.bsky.feed.like/3mupdbnq3hd25", "'app.bsky.feed.like', not a post")]
    [InlineData("at://did:plc:ptenb53qybtyitgeylzid7it/app.bsky.actor.profile/self", "not a post")]
    [InlineData("at://did:plc:short/app.bsky.feed.post/3mupdbnq3hd25", "not a valid did:plc")]
    [InlineData("at://did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK/app.bsky.feed.post/3mupdbnq3hd25", "DID method 'key'")]
    [InlineData("at://alice..example.com/app.bsky.feed.post/3mupdbnq3hd25", "neither a DID nor a valid handle")]
    [InlineData("at:///app.bsky.feed.post/3mupdbnq3hd25", "account (DID or handle) is missing")]
    [InlineData("at://did:plc:ptenb53qybtyitgeylzid7it/app.bsky.feed.post/..", "'.' and '..' are not record keys")]
    [InlineData("at://did:plc:ptenb53qybtyitgeylzid7it/app.bsky.feed.post/bad!key", "character '!'")]
    [InlineData("did:plc:ptenb53qybtyitgeylzid7it/app.bsky.feed.post/3mupdbnq3hd25", "must start with 'at://'")]
    [InlineData("at://did:plc:ptenb53qybtyitgeylzid7it/app.bsky.feed.post/café", "U+00E9")]
    [InlineData("", "it is empty")]
    public void Invalid_reply_uris_are_rejected(string uri, string reasonPart)
    {
        var e = Invalid(Job() with { ReplyToUri = uri, ReplyToCid = Cid }, "ReplyToUri");
        Assert.StartsWith("reply_to_uri '", e.Message);
        Assert.Contains(reasonPart, e.Message);
    }

    [Fact]
    public void A_record_key_over_512_characters_is_rejected()
    {
        JobValidator.Validate(Job() with { ReplyToUri = Uri[..^13] + new string('k', 512), ReplyToCid = Cid });
        var e = Invalid(Job() with { ReplyToUri = Uri[..^13] + new string('k', 513), ReplyToCid = Cid }, "ReplyToUri");
        Assert.Contains("1 to 512 characters", e.Message);
    }

    [Fact]
    public void A_web_url_gets_the_equivalent_at_uri_as_a_hint()
    {
        var e = Invalid(Job() with { ReplyToUri = "https://bsky.app/profile/carol.example.net/post/3mupdbnq3hd25", ReplyToCid = Cid }, "ReplyToUri");
        Assert.Contains("did you mean 'at://carol.example.net/app.bsky.feed.post/3mupdbnq3hd25'?", e.Message);
    }

    [Theory]
    [InlineData(Cid)]
    [InlineData("bafyreih7uyuy6wavh5kdfdp6j4f66fjma3fpmmwnhutde7eebverskvmru")]
    [InlineData("bafkreibm6jg3ux5qumhcn2b3flc3tyu6dmlb4xa7u5bf44yegnrjhc4yeq")] // raw codec
    [InlineData("bafyrgqe3ohjcjplc6n4f3fwunlj6upltggn7xqujbsvnvyw764srszz4u4rshq6ztos4chl4plgg4ffyyxnayrtdi5oc4xb2332g645433aeg")] // sha2-512
    [InlineData("bafk2bzaceawpetn2l6ykgdrg5a5svrnz4kpbwfq6lqp2oqs6omcdgyutromci")] // blake2b-256
    [InlineData("bafkqablimvwgy3y")] // identity multihash
    public void Valid_cids_are_accepted(string cid)
    {
        JobValidator.Validate(Job() with { ReplyToUri = Uri, ReplyToCid = cid });
    }

    [Theory]
    [InlineData("BAFYREIDTVGJEZ6TVKUCZNFWB6NFRTAEYBYW7IOJYJAMPD2YF26J7Z2E7UI", "upper-case")]
    [InlineData("3mupdbnq3hd25", "looks like a record key (TID)")]
    [InlineData("QmYwAPJzv5CZsnA625s3Xf2nemtYgPpHdWEz79ojWnPbdG", "CIDv0")]
    [InlineData("f01711220abcdef", "starts with 'b'")]
    [InlineData("bafyreidtvgjez6tvkucznfwb6nfrtaeybyw7iojyjampd2yf26j7z2e7u1", "not in the base32 alphabet")]
    [InlineData("bafyreidtvgjez6tvkucznfwb6nfrtaeybyw7iojyjampd2yf26j7z2e7u", "not canonical base32")] // one character short
    [InlineData("bafyreibm6jg3ux5qumhcn2b3flc3tyu6dmlb4xa7u5bf44yegnrjhc4yer", "not canonical base32")] // non-zero trailing bits
    [InlineData("bajyreibm6jg3ux5qumhcn2b3flc3tyu6dmlb4xa7u5bf44yegnrjhc4yeq", "version is 2")]
    [InlineData("bafyx6ibm6jg3ux5qumhcn2b3flc3tyu6dmlb4xa7u5bf44yegnrjhc4yeq", "not a known hash function")]
    [InlineData("bafyrefbm6jg3ux5qumhcn2b3flc3tyu6dmlb4xa", "declares a 20-byte digest")]
    [InlineData("bafyreibm6jg3ux5qumhcn2b3flc3tyu6dmlb4xa7u5bf44yegnrjhc4yeqaa", "digest is 33 bytes but the multihash declares 32")]
    [InlineData("b", "truncated")]
    [InlineData("", "it is empty")]
    public void Invalid_cids_are_rejected(string cid, string reasonPart)
    {
        var e = Invalid(Job() with { ReplyToUri = Uri, ReplyToCid = cid }, "ReplyToCid");
        Assert.StartsWith("reply_to_cid '", e.Message);
        Assert.Contains("is not a valid CID", e.Message);
        Assert.Contains(reasonPart, e.Message);
    }

    // ---- image ----

    [Fact]
    public void Alt_text_without_an_image_is_rejected()
    {
        var e = Invalid(Job() with { ImageAlt = "A cat." }, "ImageAlt");
        Assert.Contains("image_alt is set but image_path is missing", e.Message);
    }

    [Fact]
    public void Alt_text_with_an_unpaired_surrogate_is_rejected()
    {
        var path = File("photo.jpg", JpegHeader);
        var e = Invalid(Job() with { ImagePath = path, ImageAlt = "half \uD83D" }, "ImageAlt");
        Assert.Contains("image_alt contains an unpaired UTF-16 surrogate", e.Message);
    }

    [Fact]
    public void Alt_text_with_an_image_is_fine()
    {
        var path = File("photo.jpg", JpegHeader);
        var alt = new string('x', 2000);
        Assert.Equal(alt, JobValidator.Validate(Job() with { ImagePath = path, ImageAlt = alt }).ImageAlt);
    }

    [Theory]
    [InlineData("photo.jpg", "jpeg")]
    [InlineData("picture.png", "png")]
    [InlineData("anim.gif", "gif89")]
    [InlineData("old.gif", "gif87")]
    [InlineData("photo.webp", "webp")]
    [InlineData("screenshot.png", "jpeg")] // a .png that is really a JPEG is fine: judged by content
    [InlineData("no-extension", "png")]
    public void Image_files_are_accepted_by_content(string name, string kind)
    {
        byte[] content = kind switch
        {
            "jpeg" => JpegHeader,
            "png" => PngHeader,
            "gif89" => "GIF89a\x01\x00\x01\x00"u8.ToArray(),
            "gif87" => "GIF87a\x01\x00\x01\x00"u8.ToArray(),
            "webp" => "RIFF\x24\x00\x00\x00WEBPVP8 "u8.ToArray(),
            _ => throw new ArgumentOutOfRangeException(nameof(kind)),
        };
        var path = File(name, content, 500);
        Assert.Equal(path, JobValidator.Validate(Job() with { ImagePath = path }).ImagePath);
    }

    [Theory]
    [InlineData("not-really-an-image.jpg", "%PDF-1.4\n%\u00e2\u00e3\n1 0 obj", "it looks like a PDF document")]
    [InlineData("notes.png", "hello, this is text", "is not a JPEG, PNG, GIF or WebP image")]
    [InlineData("drawing.png", "<svg xmlns=\"http://www.w3.org/2000/svg\"/>", "SVG")]
    [InlineData("old.bmp", "BM\u0000\u0000\u0000\u0000", "BMP")]
    [InlineData("riff.webp", "RIFF\u0000\u0000\u0000\u0000WAVEfmt ", "is not a JPEG, PNG, GIF or WebP image")]
    public void Files_that_are_not_images_are_rejected(string name, string content, string reasonPart)
    {
        var path = File(name, System.Text.Encoding.Latin1.GetBytes(content));
        var e = Invalid(Job() with { ImagePath = path }, "ImagePath");
        Assert.StartsWith("image_path '", e.Message);
        Assert.Contains(path, e.Message);
        Assert.Contains("not a JPEG, PNG, GIF or WebP image", e.Message);
        Assert.Contains(reasonPart, e.Message);
    }

    [Fact]
    public void An_empty_file_is_rejected()
    {
        var path = File("empty.jpg", []);
        var e = Invalid(Job() with { ImagePath = path }, "ImagePath");
        Assert.Contains("empty file (0 bytes)", e.Message);
    }

    [Fact]
    public void A_missing_file_is_rejected_naming_the_path()
    {
        var path = Path.Combine(_folder, "does-not-exist.jpg");
        var e = Invalid(Job() with { ImagePath = path }, "ImagePath");
        Assert.Contains($"image_path '{path}' does not exist", e.Message);
    }

    [Fact]
    public void A_directory_is_rejected()
    {
        var e = Invalid(Job() with { ImagePath = _folder }, "ImagePath");
        Assert.Contains("is a directory", e.Message);
    }

    [Theory]
    [InlineData("")]
    [InlineData("   ")]
    public void An_empty_image_path_is_rejected(string path)
    {
        var e = Invalid(Job() with { ImagePath = path }, "ImagePath");
        Assert.Contains("image_path is empty", e.Message);
    }

    [Fact]
    public void A_path_with_a_NUL_is_rejected()
    {
        var e = Invalid(Job() with { ImagePath = "bad\0name.jpg" }, "ImagePath");
        Assert.StartsWith("image_path '", e.Message);
    }

    [Fact]
    public void The_default_size_limit_is_2000000_bytes_inclusive()
    {
        var atLimit = File("at-limit.jpg", JpegHeader, 2_000_000);
        JobValidator.Validate(Job() with { ImagePath = atLimit });

        var over = File("over.jpg", JpegHeader, 2_000_001);
        var e = Invalid(Job() with { ImagePath = over }, "ImagePath");
        Assert.Contains("is 2,000,001 bytes; the limit is 2,000,000 bytes", e.Message);
    }

    [Fact]
    public void The_size_limit_is_configurable()
    {
        var path = File("small.png", PngHeader, 100);
        JobValidator.Validate(Job() with { ImagePath = path }, maxImageBytes: 100);
        var e = Invalid(Job() with { ImagePath = path }, "ImagePath", maxImageBytes: 99);
        Assert.Contains("is 100 bytes; the limit is 99 bytes", e.Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => JobValidator.Validate(Job(), maxImageBytes: 0));
    }

    [SharedSamplesFact]
    public void The_sample_images_are_judged_by_content()
    {
        var images = Path.Combine(ValidationSamples.Dir, "images");
        foreach (var path in Directory.GetFiles(images))
        {
            var job = Job() with { ImagePath = path };
            if (Path.GetFileName(path) == "not-really-an-image.jpg")
            {
                var e = Invalid(job, "ImagePath");
                Assert.Contains("PDF", e.Message);
            }
            else
            {
                JobValidator.Validate(job);
            }
        }
    }

    [Theory]
    [InlineData(new byte[] { 0xFF, 0xD8, 0xFF, 0xDB }, "image/jpeg")]
    [InlineData(new byte[] { 0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A }, "image/png")]
    [InlineData(new byte[] { 0x47, 0x49, 0x46, 0x38, 0x39, 0x61 }, "image/gif")]
    [InlineData(new byte[] { 0x47, 0x49, 0x46, 0x38, 0x37, 0x61 }, "image/gif")]
    [InlineData(new byte[] { 0x52, 0x49, 0x46, 0x46, 1, 2, 3, 4, 0x57, 0x45, 0x42, 0x50 }, "image/webp")]
    [InlineData(new byte[] { 0x52, 0x49, 0x46, 0x46, 1, 2, 3, 4, 0x57, 0x41, 0x56, 0x45 }, null)]
    [InlineData(new byte[] { 0x52, 0x49, 0x46, 0x46, 1, 2, 3, 4, 0x57, 0x45, 0x42 }, null)]
    [InlineData(new byte[] { 0x89, 0x50, 0x4E, 0x47 }, null)]
    [InlineData(new byte[] { 0xFF, 0xD8 }, null)]
    [InlineData(new byte[] { 0x25, 0x50, 0x44, 0x46, 0x2D }, null)]
    [InlineData(new byte[0], null)]
    public void DetectImageType_reads_magic_bytes(byte[] header, string? expected)
    {
        Assert.Equal(expected, JobValidator.DetectImageType(header));
    }

    // ---- max attempts ----

    [Theory]
    [InlineData(0)]
    [InlineData(-1)]
    [InlineData(int.MinValue)]
    public void Max_attempts_below_one_is_rejected(int maxAttempts)
    {
        var e = Invalid(Job() with { MaxAttempts = maxAttempts }, "MaxAttempts");
        Assert.Contains($"max_attempts must be at least 1 (got {maxAttempts})", e.Message);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    [InlineData(100)]
    public void Max_attempts_of_one_or_more_is_fine(int maxAttempts)
    {
        Assert.Equal(maxAttempts, JobValidator.Validate(Job() with { MaxAttempts = maxAttempts }).MaxAttempts);
    }

    [Fact]
    public void Text_is_checked_before_the_other_fields()
    {
        // Line 17 of posts-invalid.jsonl: a too-long reply with an image; the text is what is wrong.
        var path = File("photo.jpg", JpegHeader);
        var job = Job(new string('a', 301)) with { ReplyToUri = Uri, ReplyToCid = Cid, ImagePath = path, ImageAlt = "alt" };
        Invalid(job, nameof(NewJob.Text));
    }
}

public class TimestampValidationTests
{
    [Theory]
    [InlineData("2026-12-24T09:00:00Z", "2026-12-24T09:00:00.0000000+00:00")]
    [InlineData("2026-12-24t09:00:00z", "2026-12-24T09:00:00.0000000+00:00")]
    [InlineData("2026-12-24T18:00:00+09:00", "2026-12-24T09:00:00.0000000+00:00")]
    [InlineData("2026-12-24T04:00:00-05:00", "2026-12-24T09:00:00.0000000+00:00")]
    [InlineData("2026-12-24T14:30:00+05:30", "2026-12-24T09:00:00.0000000+00:00")]
    [InlineData("2026-12-24T09:00:00-00:00", "2026-12-24T09:00:00.0000000+00:00")]
    [InlineData("2026-12-24T09:00:00.5Z", "2026-12-24T09:00:00.5000000+00:00")]
    [InlineData("2026-12-24T09:00:00.000Z", "2026-12-24T09:00:00.0000000+00:00")]
    [InlineData("2027-01-02T13:45:00.226889+08:00", "2027-01-02T05:45:00.2268890+00:00")]
    [InlineData("2026-12-24T09:00:00.1234567Z", "2026-12-24T09:00:00.1234567+00:00")]
    [InlineData("2026-12-24T09:00:00.123456789Z", "2026-12-24T09:00:00.1234567+00:00")] // beyond 100 ns: dropped
    [InlineData("2027-01-01T00:30:00+01:00", "2026-12-31T23:30:00.0000000+00:00")]
    [InlineData("2028-02-29T00:00:00Z", "2028-02-29T00:00:00.0000000+00:00")]
    public void Valid_RFC3339_times_are_parsed_to_UTC(string text, string expectedRoundTrip)
    {
        var parsed = Timestamps.ParseRfc3339(text, "not_before");
        Assert.Equal(TimeSpan.Zero, parsed.Offset);
        Assert.Equal(expectedRoundTrip, parsed.ToString("o"));
    }

    [Theory]
    [InlineData("next tuesday at 9", "expected e.g. 2026-12-24T09:00:00Z")]
    [InlineData("", "expected e.g.")]
    [InlineData("2026-12-01 09:00:00", "space separates date and time")]
    [InlineData("2026-12-01 09:00:00", "no UTC offset")]
    [InlineData("2026-12-01T09:00:00", "no UTC offset")]
    [InlineData("2026-12-01T09:00:00.123", "no UTC offset")]
    [InlineData("2026-12-01", "date without a time")]
    [InlineData("2026-13-01T09:00:00Z", "month 13 is out of range")]
    [InlineData("2026-00-01T09:00:00Z", "month 00 is out of range")]
    [InlineData("2026-02-29T09:00:00Z", "day 29 is out of range for 2026-02")]
    [InlineData("2026-12-01T24:00:00Z", "hour 24")]
    [InlineData("2026-12-01T09:60:00Z", "minute 60")]
    [InlineData("2026-12-31T23:59:60Z", "leap second")]
    [InlineData("2026-12-01T09:00Z", "seconds are missing")]
    [InlineData("2026-12-01T09:00:00+0900", "needs a colon ('+09:00')")]
    [InlineData("2026-12-01T09:00:00+09", "needs minutes ('+09:00')")]
    [InlineData("2026-12-01T09:00:00+15:00", "out of range")]
    [InlineData("2026-12-01T09:00:00 Z", "unexpected text")]
    [InlineData("2026-12-01T09:00:00Z\n", "unexpected text")]
    [InlineData(" 2026-12-01T09:00:00Z", "expected e.g.")]
    [InlineData("2026-12-01T09:00:00.Z", "unexpected text")]
    [InlineData("２０２６-12-01T09:00:00Z", "expected e.g.")]
    [InlineData("0001-01-01T00:00:00+01:00", "outside the representable range")]
    [InlineData("1796112000", "expected e.g.")]
    public void Invalid_times_are_rejected_with_the_reason(string text, string reasonPart)
    {
        var e = Assert.Throws<ArgumentException>(() => Timestamps.ParseRfc3339(text, "not_before"));
        Assert.Equal("not_before", e.ParamName);
        Assert.StartsWith("not_before '", e.Message);
        Assert.Contains(reasonPart, e.Message);
    }

    [Fact]
    public void The_field_name_is_used_as_ParamName()
    {
        var e = Assert.Throws<ArgumentException>(() => Timestamps.ParseRfc3339("2026-12-01", "--not-before"));
        Assert.Equal("--not-before", e.ParamName);
        Assert.StartsWith("--not-before '2026-12-01'", e.Message);

        e = Assert.Throws<ArgumentException>(() => Timestamps.ParseRfc3339(null!, "NotBefore"));
        Assert.Equal("NotBefore", e.ParamName);
    }

    [SharedSamplesFact]
    public void Every_not_before_in_the_valid_samples_parses()
    {
        foreach (var line in ValidationSamples.ValidLines())
        {
            using var doc = System.Text.Json.JsonDocument.Parse(line);
            if (doc.RootElement.TryGetProperty("not_before", out var value))
            {
                var text = value.GetString()!;
                var parsed = Timestamps.ParseRfc3339(text, "not_before");
                Assert.Equal(DateTimeOffset.Parse(text, System.Globalization.CultureInfo.InvariantCulture).UtcTicks, parsed.UtcTicks);
            }
        }
    }
}
