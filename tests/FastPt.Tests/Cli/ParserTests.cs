using FastPt.Cli.Parsing;
using Xunit;

namespace FastPt.Tests.Cli;

public class ParserTests
{
    [Theory]
    [InlineData("512M", 512UL << 20)]
    [InlineData("64G", 64UL << 30)]
    [InlineData("1T", 1UL << 40)]
    [InlineData("4096", 4096UL)]
    [InlineData("0x1000", 4096UL)]
    [InlineData("0x0000_0080_0000_0000", 0x80_0000_0000UL)]
    [InlineData("4KiB", 4096UL)]
    [InlineData("2gb", 2UL << 30)]
    [InlineData("  8G ", 8UL << 30)]
    [InlineData("1_024", 1024UL)]
    [InlineData("3 M", 3UL << 20)]
    [InlineData("15E", 15UL << 60)]
    [InlineData("0", 0UL)]
    public void Size_parser_accepts(string text, ulong expected)
    {
        Assert.True(SizeParser.TryParse(text, out ulong bytes, out string error), error);
        Assert.Equal(expected, bytes);
    }

    [Theory]
    [InlineData("")]
    [InlineData("   ")]
    [InlineData(null)]
    [InlineData("abc")]
    [InlineData("12Q")]
    [InlineData("4GiBs")]
    [InlineData("0x")]
    [InlineData("0x10G")]
    [InlineData("-1")]
    [InlineData("1.5G")]
    [InlineData("99999999999999999999")]
    [InlineData("16E")]
    [InlineData("0x1_0000_0000_0000_0000")]
    [InlineData("_1")]
    public void Size_parser_rejects_with_a_reason(string? text)
    {
        Assert.False(SizeParser.TryParse(text, out _, out string error));
        Assert.False(string.IsNullOrWhiteSpace(error));
    }

    [Fact]
    public void Size_parse_throws_format_exception_on_bad_input()
    {
        Assert.Equal(2UL << 20, SizeParser.Parse("2M"));
        Assert.Throws<System.FormatException>(() => SizeParser.Parse("two megabytes"));
    }

    [Theory]
    [InlineData(64UL << 30, "64G")]
    [InlineData(512UL << 20, "512M")]
    [InlineData(4097UL, "4097 B")]
    [InlineData(0UL, "0 B")]
    [InlineData(1536UL << 20, "1536M")]
    public void Size_format_uses_the_largest_exact_unit(ulong bytes, string expected) =>
        Assert.Equal(expected, SizeParser.Format(bytes));

    [Theory]
    [InlineData("0xffff888000000000+4G", 0xffff_8880_0000_0000UL, 0xffff_8881_0000_0000UL)]
    [InlineData("0x1000-0x2000", 0x1000UL, 0x2000UL)]
    [InlineData("4G-8G", 4UL << 30, 8UL << 30)]
    [InlineData(" 0x1000 + 4K ", 0x1000UL, 0x2000UL)]
    [InlineData("0-1", 0UL, 1UL)]
    [InlineData("0x0000_0080_0000_0000+2M", 0x80_0000_0000UL, 0x80_0020_0000UL)]
    [InlineData("0xfffffffffffff000+4K", 0xffff_ffff_ffff_f000UL, 0UL)] // ends exactly at 2^64: an end of 0
    [InlineData("0xffffffff80000000+2G", 0xffff_ffff_8000_0000UL, 0UL)]
    public void Range_parser_accepts(string text, ulong start, ulong end)
    {
        Assert.True(AddressRange.TryParse(text, out AddressRange range, out string error), error);
        Assert.Equal(start, range.Start);
        Assert.Equal(end, range.End);
        Assert.Equal(end - start, range.Length);
    }

    [Theory]
    [InlineData("0x1000")]
    [InlineData("")]
    [InlineData(null)]
    [InlineData("+4G")]
    [InlineData("-5")]
    [InlineData("0x2000-0x1000")]
    [InlineData("0x1000-0x1000")]
    [InlineData("0x1000+0")]
    [InlineData("0xffffffffffffffff+2")]
    [InlineData("0xfffffffffffff000+8K")]
    [InlineData("x-y")]
    [InlineData("0x1000-")]
    [InlineData("0x1000+4Q")]
    [InlineData("0x1000-0x2000-0x3000")]
    public void Range_parser_rejects_with_a_reason(string? text)
    {
        Assert.False(AddressRange.TryParse(text, out _, out string error));
        Assert.False(string.IsNullOrWhiteSpace(error));
    }

    [Theory]
    [InlineData("0", 0UL)]
    [InlineData("18446744073709551615", ulong.MaxValue)]
    [InlineData("0xFFFFffffFFFFffff", ulong.MaxValue)]
    [InlineData("0x7f_ff", 0x7fffUL)]
    public void Number_parser_reads_decimal_and_hex(string text, ulong expected)
    {
        Assert.True(NumberParser.TryParseUnsigned(text, out ulong value));
        Assert.Equal(expected, value);
    }

    [Theory]
    [InlineData("18446744073709551616")]
    [InlineData("0x1_0000_0000_0000_0000")]
    [InlineData("12a")]
    [InlineData("0xg")]
    [InlineData("")]
    [InlineData("_")]
    [InlineData("1_")]
    public void Number_parser_rejects(string text) => Assert.False(NumberParser.TryParseUnsigned(text, out _));
}
