using System.Globalization;
using System.Text.Json;
using Xunit;

namespace QueueActors.Storage.Tests;

public class GraphemeTests
{
    [Theory]
    // Devanagari (Hindi) conjuncts: GB9c keeps consonant + virama + consonant together.
    [InlineData("क्षत्रिय", 3)]          // क्ष | त्रि | य
    [InlineData("स्त्री", 1)]             // स्त्री (three consonants, one cluster)
    [InlineData("हिन्दी", 2)]             // हि | न्दी
    [InlineData("नमस्ते", 3)]             // न | म | स्ते
    [InlineData("विश्वविद्यालय", 6)]      // वि | श्व | वि | द्या | ल | य
    [InlineData("क्क्क्क", 1)]            // chains of conjuncts
    [InlineData("क\u093C\u094Dष", 1)]    // nukta before the virama (InCB=Extend)
    [InlineData("क\u094D\u200Dष", 1)]    // ZWJ after the virama (half form) stays joined
    [InlineData("क\u094D\u200Cष", 2)]    // ZWNJ after the virama requests an explicit virama: break
    [InlineData("क\u094D", 1)]           // virama at the end
    [InlineData("\u094Dक", 2)]           // virama with no consonant before it
    // Other InCB=Linker scripts.
    [InlineData("ক্ষমা", 2)]              // Bengali: ক্ষ | মা
    [InlineData("স্ত্রী", 1)]             // Bengali
    [InlineData("বাংলা", 2)]              // Bengali: বাং | লা
    [InlineData("ক\u09BC\u09CDক", 1)]    // Bengali nukta
    [InlineData("ક્ષમા", 2)]              // Gujarati
    [InlineData("କ୍ଷ", 1)]               // Oriya
    [InlineData("క్ష", 1)]               // Telugu
    [InlineData("ന്റെ", 1)]              // Malayalam
    [InlineData("க்ஷ", 2)]               // Tamil's virama is not an InCB linker: two clusters
    public void Indic_conjuncts_are_one_grapheme(string text, int expected)
    {
        Assert.Equal(expected, Graphemes.Count(text));
    }

    [Theory]
    [InlineData("👨\u200D👩\u200D👧\u200D👦", 1)]     // ZWJ family
    [InlineData("👩🏽\u200D💻", 1)]                  // skin tone + ZWJ profession
    [InlineData("🏳\uFE0F\u200D🌈", 1)]              // rainbow flag (VS16 + ZWJ)
    [InlineData("🇺🇸", 1)]                          // regional-indicator flag
    [InlineData("🇺🇸🇻🇳", 2)]                        // two flags
    [InlineData("👍🏽", 1)]                          // skin tone modifier
    [InlineData("💪🏿💪🏾💪🏽💪🏼💪🏻", 5)]
    [InlineData("❤\uFE0F", 1)]
    public void Emoji_sequences_are_one_grapheme_each(string text, int expected)
    {
        Assert.Equal(expected, Graphemes.Count(text));
    }

    [Theory]
    [InlineData("", 0)]
    [InlineData("hello", 5)]
    [InlineData("\r\n", 1)]                 // CRLF is one grapheme
    [InlineData("a\r\nb", 3)]
    [InlineData("\n\r", 2)]                 // LF CR is two
    [InlineData("e\u0301", 1)]              // combining acute
    [InlineData("a\u0308\u0301", 1)]        // two combining marks
    [InlineData("Zalgo\u0335\u0321\u0327", 5)]
    [InlineData("한국어", 3)]                // precomposed Hangul
    [InlineData("\u1100\u1161\u11A8", 1)]  // conjoining jamo
    public void Other_text_counts_as_unicode_says(string text, int expected)
    {
        Assert.Equal(expected, Graphemes.Count(text));
    }

    [Fact]
    public void An_unpaired_surrogate_counts_as_one()
    {
        // Not inline data: xunit's test-case serialization would replace lone surrogates with U+FFFD.
        Assert.Equal(3, Graphemes.Count("ab\uD83D"));
        Assert.Equal(3, Graphemes.Count("\uDE00a\uD83D"));
        Assert.Equal(2, Graphemes.Count("\u0915\u094D\uD83D"));
    }

    [Fact]
    public void Split_returns_the_clusters()
    {
        Assert.Equal(["क्ष", "त्रि", "य"], Graphemes.Split("क्षत्रिय"));
        Assert.Equal(["a", "\r\n", "👨\u200D👩\u200D👧\u200D👦"], Graphemes.Split("a\r\n👨\u200D👩\u200D👧\u200D👦"));
        Assert.Empty(Graphemes.Split(""));
    }

    [Fact]
    public void Span_and_string_overloads_agree()
    {
        const string text = "नमस्ते 👋🏽 world";
        Assert.Equal(Graphemes.Count(text), Graphemes.Count(text.AsSpan()));
    }

    [Fact]
    public void StringInfo_alone_over_counts_Hindi_which_is_the_gap_closed_here()
    {
        // Documents why Graphemes exists: .NET's StringInfo does not apply GB9c.
        Assert.Equal(5, new StringInfo("क्षत्रिय").LengthInTextElements);
        Assert.Equal(3, Graphemes.Count("क्षत्रिय"));
    }

    [SharedSamplesFact]
    public void The_Hindi_sample_is_exactly_300_graphemes()
    {
        var hindi = ValidationSamples.ValidTexts()
            .Single(t => t.Count(c => c is >= '\u0900' and <= '\u097F') > 200);
        Assert.Equal(300, Graphemes.Count(hindi));
        Assert.True(new StringInfo(hindi).LengthInTextElements > 300, "StringInfo alone should over-count this text");
    }

    [SharedSamplesFact]
    public void Nine_valid_samples_are_exactly_300_graphemes_and_none_more()
    {
        var counts = ValidationSamples.ValidTexts().Select(Graphemes.Count).ToList();
        Assert.Equal(9, counts.Count(c => c == JobValidator.MaxGraphemes));
        Assert.All(counts, c => Assert.True(c <= JobValidator.MaxGraphemes, $"{c} graphemes"));
    }

    [SharedSamplesTheory]
    [InlineData(14)]
    [InlineData(15)]
    [InlineData(16)]
    [InlineData(17)]
    public void Invalid_samples_14_to_17_are_301_graphemes(int lineNumber)
    {
        var line = ValidationSamples.InvalidLines()[lineNumber - 1];
        using var doc = JsonDocument.Parse(line);
        Assert.Equal(301, Graphemes.Count(doc.RootElement.GetProperty("text").GetString()!));
    }
}
