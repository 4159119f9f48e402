using System.Globalization;
using System.Text;

namespace QueueActors.Storage;

/// <summary>
/// Checks a <see cref="NewJob"/> against the rules Bluesky would enforce later (SPEC §3, "Bad input gets a
/// clear error and changes nothing"), so a bad job is refused at enqueue time.
/// </summary>
public static class JobValidator
{
    /// <summary>The most graphemes (extended grapheme clusters) a post text may have.</summary>
    public const int MaxGraphemes = 300;

    /// <summary>The most UTF-8 bytes a post text may have.</summary>
    public const int MaxUtf8Bytes = 3000;

    /// <summary>The default size limit of an attached image, in bytes (inclusive).</summary>
    public const long DefaultMaxImageBytes = 2_000_000;

    /// <summary>The longest handle, in characters.</summary>
    private const int MaxHandleLength = 253;

    /// <summary>The longest label of a handle, in characters.</summary>
    private const int MaxLabelLength = 63;

    /// <summary>The longest record key, in characters.</summary>
    private const int MaxRecordKeyLength = 512;

    private const string PostCollection = "app.bsky.feed.post";
    private const string UriShape = "at://<did-or-handle>/app.bsky.feed.post/<rkey>";

    private static readonly HashSet<string> ReservedTlds =
        new(["alt", "arpa", "example", "internal", "invalid", "local", "localhost", "onion"], StringComparer.OrdinalIgnoreCase);

    /// <summary>
    /// Validates an atproto handle and returns it in canonical form: one leading '@' dropped, lower case.
    /// </summary>
    /// <param name="handle">The handle as given, e.g. <c>@Alice.Example.com</c>.</param>
    /// <returns>The normalized handle, e.g. <c>alice.example.com</c>.</returns>
    /// <exception cref="ArgumentException">
    /// The handle is missing or invalid (ParamName <c>ExpectedHandle</c>); the message says what is wrong.
    /// </exception>
    public static string NormalizeHandle(string? handle)
    {
        const string param = nameof(NewJob.ExpectedHandle);
        if (handle is null)
        {
            throw new ArgumentException(
                "expected_handle is missing; give the handle of the account that must publish the job (e.g. alice.example.com)",
                param);
        }

        var bare = handle.StartsWith('@') ? handle[1..] : handle;
        var error = HandleError(bare, checkReservedTld: true);
        if (error is not null)
        {
            throw new ArgumentException($"expected_handle '{Quote(handle)}' is not a valid handle: {error}", param);
        }

        return bare.ToLowerInvariant();
    }

    /// <summary>
    /// Checks every rule of SPEC §3 and returns the job with its handle normalized; the text is never changed.
    /// </summary>
    /// <param name="job">The job to check.</param>
    /// <param name="maxImageBytes">The size limit of an attached image in bytes (a file of exactly this size is accepted).</param>
    /// <returns>A copy of <paramref name="job"/> whose <see cref="NewJob.ExpectedHandle"/> is normalized.</returns>
    /// <exception cref="ArgumentException">
    /// The job breaks a rule; ParamName is the <see cref="NewJob"/> property concerned and the message names the
    /// field (in snake_case, as in the JSON job format) and says what is wrong.
    /// </exception>
    public static NewJob Validate(NewJob job, long maxImageBytes = DefaultMaxImageBytes)
    {
        ArgumentNullException.ThrowIfNull(job);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxImageBytes, 1);

        ValidateText(job);
        var handle = NormalizeHandle(job.ExpectedHandle);
        ValidateReply(job.ReplyToUri, job.ReplyToCid);
        ValidateImage(job.ImagePath, job.ImageAlt, maxImageBytes);

        if (job.MaxAttempts < 1)
        {
            throw new ArgumentException(
                Inv($"max_attempts must be at least 1 (got {job.MaxAttempts})"), nameof(NewJob.MaxAttempts));
        }

        // A relative path means the caller's folder; stored as given it would mean the poster's.
        var imagePath = job.ImagePath is null ? null : Path.GetFullPath(job.ImagePath);
        return handle == job.ExpectedHandle && imagePath == job.ImagePath
            ? job
            : job with { ExpectedHandle = handle, ImagePath = imagePath };
    }

    /// <summary>The media type of an image judged by its first bytes: JPEG, PNG, GIF or WebP; null for anything else.</summary>
    /// <param name="header">The first bytes of the file (12 are enough).</param>
    /// <returns><c>image/jpeg</c>, <c>image/png</c>, <c>image/gif</c>, <c>image/webp</c>, or null.</returns>
    public static string? DetectImageType(ReadOnlySpan<byte> header)
    {
        if (header.StartsWith((ReadOnlySpan<byte>)[0xFF, 0xD8, 0xFF]))
        {
            return "image/jpeg";
        }

        if (header.StartsWith((ReadOnlySpan<byte>)[0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A]))
        {
            return "image/png";
        }

        if (header.StartsWith("GIF87a"u8) || header.StartsWith("GIF89a"u8))
        {
            return "image/gif";
        }

        if (header.Length >= 12 && header.StartsWith("RIFF"u8) && header[8..12].SequenceEqual("WEBP"u8))
        {
            return "image/webp";
        }

        return null;
    }

    /// <summary>The syntax problem of a reply AT-URI, or null when it names an app.bsky.feed.post record.</summary>
    internal static string? ReplyUriError(string uri)
    {
        if (uri.Length == 0)
        {
            return $"it is empty; expected {UriShape}";
        }

        if (uri.StartsWith("https://", StringComparison.OrdinalIgnoreCase) || uri.StartsWith("http://", StringComparison.OrdinalIgnoreCase))
        {
            var hint = WebUrlHint(uri);
            return $"it is a web URL, not an at:// URI; expected {UriShape}" + (hint is null ? "" : $" (did you mean '{hint}'?)");
        }

        if (!uri.StartsWith("at://", StringComparison.Ordinal))
        {
            return uri.StartsWith("at://", StringComparison.OrdinalIgnoreCase)
                ? "the scheme must be lower case 'at://'"
                : $"it must start with 'at://'; expected {UriShape}";
        }

        for (var i = 0; i < uri.Length; i++)
        {
            var c = uri[i];
            if (char.IsWhiteSpace(c))
            {
                return Inv($"it contains whitespace at position {i + 1}");
            }

            if (c > 0x7E || c < 0x20)
            {
                return Inv($"it contains the character U+{(int)c:X4} at position {i + 1}; AT-URIs are ASCII");
            }
        }

        if (uri.Contains('?'))
        {
            return "a query string ('?...') is not allowed";
        }

        if (uri.Contains('#'))
        {
            return "a fragment ('#...') is not allowed";
        }

        if (uri.EndsWith('/'))
        {
            return $"it ends with a slash; expected {UriShape}";
        }

        var parts = uri[5..].Split('/');
        switch (parts.Length)
        {
            case 1:
                return $"the collection and record key are missing; expected {UriShape}";
            case 2:
                return $"the record key is missing; expected {UriShape}";
            case > 3:
                return $"it has too many path segments; expected {UriShape}";
        }

        var authorityError = AuthorityError(parts[0]);
        if (authorityError is not null)
        {
            return authorityError;
        }

        if (parts[1] != PostCollection)
        {
            return parts[1].Length == 0
                ? $"the collection is empty; expected {UriShape}"
                : $"it points at a record in '{parts[1]}', not a post ({PostCollection})";
        }

        var rkeyError = RecordKeyError(parts[2]);
        return rkeyError is null ? null : $"record key '{parts[2]}' is invalid: {rkeyError}";
    }

    /// <summary>The problem of a CID string, or null when it is a canonical CIDv1 in lower-case base32.</summary>
    internal static string? CidError(string cid)
    {
        if (cid.Length == 0)
        {
            return "it is empty";
        }

        if (cid.StartsWith("Qm", StringComparison.Ordinal) && cid.Length == 46)
        {
            return "it is a CIDv0 (base58 'Qm...'); use the canonical CIDv1 form in lower-case base32 ('b...')";
        }

        if (cid.Any(char.IsAsciiLetterUpper))
        {
            return "it contains upper-case letters; CID strings are lower-case base32 ('b...')";
        }

        if (cid[0] != 'b')
        {
            return IsTidLike(cid)
                ? "it looks like a record key (TID), not a CID; a CIDv1 string starts with 'b' (e.g. bafyrei...)"
                : "a CIDv1 string in lower-case base32 starts with 'b' (e.g. bafyrei...)";
        }

        var body = cid.AsSpan(1);
        var bytes = new byte[body.Length * 5 / 8];
        int buffer = 0, bits = 0, n = 0;
        for (var i = 0; i < body.Length; i++)
        {
            var c = body[i];
            int v = c is >= 'a' and <= 'z' ? c - 'a' : c is >= '2' and <= '7' ? c - '2' + 26 : -1;
            if (v < 0)
            {
                return Inv($"character '{Quote(c.ToString())}' at position {i + 2} is not in the base32 alphabet (a-z, 2-7)");
            }

            buffer = (buffer << 5) | v;
            bits += 5;
            if (bits >= 8)
            {
                bits -= 8;
                bytes[n++] = (byte)(buffer >> bits);
                buffer &= (1 << bits) - 1;
            }
        }

        if (bits >= 5 || buffer != 0)
        {
            return "it is not canonical base32 (truncated, or non-zero trailing bits)";
        }

        var span = bytes.AsSpan(0, n);
        if (!ReadVarint(ref span, out var version))
        {
            return "it is truncated (no CID version)";
        }

        if (version != 1)
        {
            return Inv($"the CID version is {version}, expected 1");
        }

        if (!ReadVarint(ref span, out _))
        {
            return "it is truncated (no content codec)";
        }

        if (!ReadVarint(ref span, out var hashCode) || !ReadVarint(ref span, out var digestLength))
        {
            return "it is truncated (no multihash)";
        }

        if (!KnownHashLengths.TryGetValue(hashCode, out var expected))
        {
            return Inv($"multihash function 0x{hashCode:x} is not a known hash function");
        }

        if (digestLength == 0 || (expected > 0 && digestLength != (ulong)expected))
        {
            return Inv($"the multihash declares a {digestLength}-byte digest, but this hash function makes {expected}-byte digests");
        }

        if ((ulong)span.Length != digestLength)
        {
            return Inv($"the digest is {span.Length} bytes but the multihash declares {digestLength} (truncated or padded)");
        }

        return null;
    }

    private static void ValidateText(NewJob job)
    {
        const string param = nameof(NewJob.Text);
        var text = job.Text;
        if (text is null)
        {
            throw new ArgumentException("text is missing; give the post text (it may be empty only when an image is attached)", param);
        }

        var bad = UnpairedSurrogateIndex(text);
        if (bad >= 0)
        {
            throw new ArgumentException(
                Inv($"text contains an unpaired UTF-16 surrogate (U+{(int)text[bad]:X4} at index {bad}), which is not valid Unicode (half of an emoji?)"),
                param);
        }

        if (job.ImagePath is null && string.IsNullOrWhiteSpace(text))
        {
            throw new ArgumentException(
                text.Length == 0
                    ? "text is empty and there is no image; a post needs text or an image"
                    : "text is only whitespace and there is no image; a post needs text or an image",
                param);
        }

        var graphemes = Graphemes.Count(text);
        if (graphemes > MaxGraphemes)
        {
            throw new ArgumentException(Inv($"text has {graphemes} graphemes; the limit is {MaxGraphemes}"), param);
        }

        var bytes = Encoding.UTF8.GetByteCount(text);
        if (bytes > MaxUtf8Bytes)
        {
            throw new ArgumentException(Inv($"text is {bytes} UTF-8 bytes; the limit is {MaxUtf8Bytes} (it has {graphemes} graphemes)"), param);
        }
    }

    private static void ValidateReply(string? uri, string? cid)
    {
        if (uri is not null && cid is null)
        {
            throw new ArgumentException(
                "reply_to_uri is set but reply_to_cid is missing; a reply needs both the parent post's AT-URI and its CID",
                nameof(NewJob.ReplyToCid));
        }

        if (cid is not null && uri is null)
        {
            throw new ArgumentException(
                "reply_to_cid is set but reply_to_uri is missing; a reply needs both the parent post's AT-URI and its CID",
                nameof(NewJob.ReplyToUri));
        }

        if (uri is null || cid is null)
        {
            return;
        }

        var uriError = ReplyUriError(uri);
        if (uriError is not null)
        {
            throw new ArgumentException($"reply_to_uri '{Quote(uri)}' is not a post's AT-URI: {uriError}", nameof(NewJob.ReplyToUri));
        }

        var cidError = CidError(cid);
        if (cidError is not null)
        {
            throw new ArgumentException($"reply_to_cid '{Quote(cid)}' is not a valid CID: {cidError}", nameof(NewJob.ReplyToCid));
        }
    }

    private static void ValidateImage(string? path, string? alt, long maxImageBytes)
    {
        if (alt is not null)
        {
            if (path is null)
            {
                throw new ArgumentException(
                    "image_alt is set but image_path is missing; alt text describes an attached image", nameof(NewJob.ImageAlt));
            }

            var bad = UnpairedSurrogateIndex(alt);
            if (bad >= 0)
            {
                throw new ArgumentException(
                    Inv($"image_alt contains an unpaired UTF-16 surrogate (U+{(int)alt[bad]:X4} at index {bad}), which is not valid Unicode"),
                    nameof(NewJob.ImageAlt));
            }
        }

        if (path is null)
        {
            return;
        }

        const string param = nameof(NewJob.ImagePath);
        if (string.IsNullOrWhiteSpace(path))
        {
            throw new ArgumentException("image_path is empty; give the path of a JPEG, PNG, GIF or WebP file", param);
        }

        string fullPath;
        try
        {
            fullPath = Path.GetFullPath(path);
        }
        catch (Exception e) when (e is ArgumentException or NotSupportedException or PathTooLongException)
        {
            throw new ArgumentException($"image_path '{Quote(path)}' is not a valid path: {e.Message}", param, e);
        }

        var shown = fullPath == path ? $"'{Quote(path)}'" : $"'{Quote(path)}' ({Quote(fullPath)})";
        if (Directory.Exists(fullPath))
        {
            throw new ArgumentException($"image_path {shown} is a directory, not an image file", param);
        }

        if (!File.Exists(fullPath))
        {
            throw new ArgumentException($"image_path {shown} does not exist", param);
        }

        long length;
        var header = new byte[16];
        int read;
        try
        {
            using var stream = new FileStream(fullPath, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
            length = stream.Length;
            read = stream.ReadAtLeast(header, header.Length, throwOnEndOfStream: false);
        }
        catch (UnauthorizedAccessException e)
        {
            throw new ArgumentException($"image_path {shown} cannot be read: permission denied", param, e);
        }
        catch (IOException e)
        {
            throw new ArgumentException($"image_path {shown} cannot be read: {e.Message}", param, e);
        }

        if (length == 0)
        {
            throw new ArgumentException($"image_path {shown} is an empty file (0 bytes), not an image", param);
        }

        if (DetectImageType(header.AsSpan(0, read)) is null)
        {
            var looksLike = DescribeNonImage(header.AsSpan(0, read));
            throw new ArgumentException(
                $"image_path {shown} is not a JPEG, PNG, GIF or WebP image (judged by its content, not its name)"
                + (looksLike is null ? "" : $"; it looks like {looksLike}"),
                param);
        }

        if (length > maxImageBytes)
        {
            throw new ArgumentException(
                Inv($"image_path {shown} is {length:N0} bytes; the limit is {maxImageBytes:N0} bytes"), param);
        }
    }

    /// <summary>The syntax problem of a handle (without '@'), or null when it is valid.</summary>
    private static string? HandleError(string handle, bool checkReservedTld)
    {
        if (handle.Length == 0)
        {
            return "it is empty";
        }

        if (handle.StartsWith("did:", StringComparison.OrdinalIgnoreCase))
        {
            return "a DID is not a handle (give the account's handle, e.g. alice.example.com)";
        }

        if (handle.StartsWith('@'))
        {
            return "only one leading '@' is allowed";
        }

        if (handle.Contains('@'))
        {
            return "'@' is only allowed at the start (an email address is not a handle)";
        }

        for (var i = 0; i < handle.Length; i++)
        {
            var c = handle[i];
            if (c > 0x7F)
            {
                return char.IsSurrogate(c) || char.IsControl(c) || char.IsWhiteSpace(c)
                    ? Inv($"non-ASCII character U+{(int)c:X4} at position {i + 1}")
                    : Inv($"non-ASCII character '{c}' at position {i + 1} (use the punycode form, xn--...)");
            }

            if (char.IsWhiteSpace(c) || char.IsControl(c))
            {
                return Inv($"whitespace or control character U+{(int)c:X4} at position {i + 1}");
            }

            if (!char.IsAsciiLetterOrDigit(c) && c != '-' && c != '.')
            {
                return Inv($"character '{c}' at position {i + 1} is not allowed (only ASCII letters, digits, '-' and '.')");
            }
        }

        if (handle.Length > MaxHandleLength)
        {
            return Inv($"it is {handle.Length} characters long; the limit is {MaxHandleLength}");
        }

        if (handle.StartsWith('.'))
        {
            return "it starts with a dot";
        }

        if (handle.EndsWith('.'))
        {
            return "it ends with a dot";
        }

        var labels = handle.Split('.');
        if (labels.Length < 2)
        {
            return "it has a single label; a handle needs at least two (e.g. alice.example.com)";
        }

        foreach (var label in labels)
        {
            if (label.Length == 0)
            {
                return "empty label";
            }

            if (label.Length > MaxLabelLength)
            {
                return Inv($"label '{Shorten(label, 20)}' is {label.Length} characters long; the limit is {MaxLabelLength}");
            }

            if (label.StartsWith('-'))
            {
                return $"label '{label}' starts with a hyphen";
            }

            if (label.EndsWith('-'))
            {
                return $"label '{label}' ends with a hyphen";
            }
        }

        var tld = labels[^1];
        if (char.IsAsciiDigit(tld[0]))
        {
            return $"the top-level domain '{tld}' starts with a digit";
        }

        if (checkReservedTld && ReservedTlds.Contains(tld))
        {
            return $"the top-level domain '.{tld.ToLowerInvariant()}' is reserved and not allowed for handles";
        }

        return null;
    }

    private static string? AuthorityError(string authority)
    {
        if (authority.Length == 0)
        {
            return $"the account (DID or handle) is missing; expected {UriShape}";
        }

        if (authority.StartsWith("did:", StringComparison.Ordinal))
        {
            if (authority.StartsWith("did:plc:", StringComparison.Ordinal))
            {
                var id = authority["did:plc:".Length..];
                return id.Length == 24 && id.All(c => c is >= 'a' and <= 'z' or >= '2' and <= '7')
                    ? null
                    : $"'{authority}' is not a valid did:plc (24 characters of a-z and 2-7 after 'did:plc:')";
            }

            if (authority.StartsWith("did:web:", StringComparison.Ordinal))
            {
                var host = authority["did:web:".Length..];
                var hostError = HandleError(host, checkReservedTld: false);
                return hostError is null ? null : $"'{authority}' is not a valid did:web ({hostError})";
            }

            var method = authority.Split(':')[1];
            return $"DID method '{method}' is not supported in an AT-URI (Bluesky uses did:plc and did:web)";
        }

        var error = HandleError(authority, checkReservedTld: true);
        return error is null ? null : $"'{authority}' is neither a DID nor a valid handle ({error})";
    }

    private static string? RecordKeyError(string rkey)
    {
        if (rkey.Length is 0 or > MaxRecordKeyLength)
        {
            return Inv($"it must be 1 to {MaxRecordKeyLength} characters long");
        }

        if (rkey is "." or "..")
        {
            return "'.' and '..' are not record keys";
        }

        foreach (var c in rkey)
        {
            if (!char.IsAsciiLetterOrDigit(c) && c is not ('.' or '_' or ':' or '~' or '-'))
            {
                return $"character '{c}' is not allowed (only A-Z, a-z, 0-9, '.', '_', ':', '~' and '-')";
            }
        }

        return null;
    }

    /// <summary>For https://bsky.app/profile/&lt;actor&gt;/post/&lt;rkey&gt;, the equivalent AT-URI.</summary>
    private static string? WebUrlHint(string url)
    {
        if (!Uri.TryCreate(url, UriKind.Absolute, out var u) || !u.Host.Equals("bsky.app", StringComparison.OrdinalIgnoreCase))
        {
            return null;
        }

        var segments = u.AbsolutePath.Trim('/').Split('/');
        return segments is ["profile", var actor, "post", var rkey] && actor.Length > 0 && rkey.Length > 0
            ? $"at://{actor}/{PostCollection}/{rkey}"
            : null;
    }

    private static string? DescribeNonImage(ReadOnlySpan<byte> header)
    {
        if (header.StartsWith("%PDF-"u8))
        {
            return "a PDF document";
        }

        if (header.StartsWith("PK"u8))
        {
            return "a ZIP archive";
        }

        if (header.StartsWith("BM"u8))
        {
            return "a BMP image, which Bluesky does not accept";
        }

        if (header.StartsWith("II*\0"u8) || header.StartsWith("MM\0*"u8))
        {
            return "a TIFF image, which Bluesky does not accept";
        }

        if (header.Length >= 12 && header[4..8].SequenceEqual("ftyp"u8))
        {
            return "an HEIC/AVIF or MP4 file, which is not accepted here";
        }

        if (header.StartsWith("<"u8) || header.StartsWith("\uFEFF<"u8))
        {
            return "an SVG/XML/HTML text file";
        }

        return null;
    }

    private static bool ReadVarint(ref Span<byte> span, out ulong value)
    {
        value = 0;
        for (var i = 0; i < 9 && i < span.Length; i++)
        {
            var b = span[i];
            value |= (ulong)(b & 0x7F) << (7 * i);
            if ((b & 0x80) == 0)
            {
                if (b == 0 && i > 0)
                {
                    return false; // not minimally encoded
                }

                span = span[(i + 1)..];
                return true;
            }
        }

        return false;
    }

    /// <summary>Multihash function codes and their digest lengths in bytes (0: variable).</summary>
    private static readonly Dictionary<ulong, int> KnownHashLengths = new()
    {
        [0x00] = 0,     // identity
        [0x11] = 20,    // sha1
        [0x12] = 32,    // sha2-256
        [0x13] = 64,    // sha2-512
        [0x14] = 64,    // sha3-512
        [0x15] = 48,    // sha3-384
        [0x16] = 32,    // sha3-256
        [0x17] = 28,    // sha3-224
        [0x1B] = 32,    // keccak-256
        [0x1E] = 0,     // blake3 (variable)
        [0x20] = 48,    // sha2-384
        [0x1012] = 32,  // sha2-256-trunc254-padded
        [0xB220] = 32,  // blake2b-256
        [0xB240] = 64,  // blake2b-512
        [0xB260] = 32,  // blake2s-256
    };

    private static bool IsTidLike(string s) =>
        s.Length == 13 && s.All(c => c is >= 'a' and <= 'z' or >= '2' and <= '7');

    /// <summary>Index of the first unpaired surrogate, or -1.</summary>
    internal static int UnpairedSurrogateIndex(string text)
    {
        for (var i = 0; i < text.Length; i++)
        {
            var c = text[i];
            if (char.IsHighSurrogate(c))
            {
                if (i + 1 < text.Length && char.IsLowSurrogate(text[i + 1]))
                {
                    i++;
                    continue;
                }

                return i;
            }

            if (char.IsLowSurrogate(c))
            {
                return i;
            }
        }

        return -1;
    }

    /// <summary>The text for a message: control characters and lone surrogates escaped, long text shortened.</summary>
    private static string Quote(string text)
    {
        var shortened = Shorten(text, 120);
        var sb = new StringBuilder(shortened.Length);
        for (var i = 0; i < shortened.Length; i++)
        {
            var c = shortened[i];
            if (char.IsHighSurrogate(c) && i + 1 < shortened.Length && char.IsLowSurrogate(shortened[i + 1]))
            {
                sb.Append(c).Append(shortened[++i]);
            }
            else if (char.IsControl(c) || char.IsSurrogate(c))
            {
                sb.Append(Inv($"\\u{(int)c:X4}"));
            }
            else
            {
                sb.Append(c);
            }
        }

        return sb.ToString();
    }

    private static string Shorten(string text, int max) =>
        text.Length <= max ? text : string.Concat(text.AsSpan(0, max - 3), "...");

    private static string Inv(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);
}
