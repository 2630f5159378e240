using FastPt.Geometry;
using Xunit;

namespace FastPt.Tests.Geometry;

// The namespace FastPt.Tests.Paging would otherwise hide the geometry class of the same name; only an alias
// inside the namespace is found before it.
#pragma warning disable IDE0065
using Paging = FastPt.Geometry.Paging;
#pragma warning restore IDE0065

public class PagingTests
{
    [Theory]
    [InlineData(0x0000_7fff_ffff_f000UL, 1, 511)]
    [InlineData(0x0000_7fff_ffff_f000UL, 2, 511)]
    [InlineData(0x0000_7fff_ffff_f000UL, 3, 511)]
    [InlineData(0x0000_7fff_ffff_f000UL, 4, 255)]
    [InlineData(0x0000_0000_4020_3000UL, 1, 3)]
    [InlineData(0x0000_0000_4020_3000UL, 2, 1)]
    [InlineData(0x0000_0000_4020_3000UL, 3, 1)]
    [InlineData(0xffff_8880_0000_0000UL, 4, 273)]
    [InlineData(0xff11_0000_0000_0000UL, 5, 273)]
    public void Index_extracts_nine_bits_per_level(ulong va, int level, int expected) =>
        Assert.Equal(expected, Paging.Index(level, va));

    [Fact]
    public void AddrEnd_clips_to_entry_boundary_and_range_end()
    {
        Assert.Equal(0x20_0000UL, Paging.AddrEnd(2, 0x1000, 0x40_0000));
        Assert.Equal(0x30_0000UL, Paging.AddrEnd(2, 0x20_1000, 0x30_0000));
        Assert.Equal(0x4000_0000UL, Paging.AddrEnd(3, 0x3000_0000, 0x8000_0000));
        // At the very top of the address space the boundary wraps to 0; the end must win.
        Assert.Equal(ulong.MaxValue & ~0xFFFUL, Paging.AddrEnd(2, 0xffff_ffff_ffe0_0000, ulong.MaxValue & ~0xFFFUL));
        Assert.Equal(0UL, Paging.AddrEnd(4, 0xffff_ff80_0000_0000, 0));
    }

    [Theory]
    [InlineData(0x0000_7fff_ffff_ffffUL, PagingMode.FourLevel, true)]
    [InlineData(0x0000_8000_0000_0000UL, PagingMode.FourLevel, false)]
    [InlineData(0xffff_8000_0000_0000UL, PagingMode.FourLevel, true)]
    [InlineData(0xffff_7fff_ffff_ffffUL, PagingMode.FourLevel, false)]
    [InlineData(0x0000_8000_0000_0000UL, PagingMode.FiveLevel, true)]
    [InlineData(0x00ff_ffff_ffff_ffffUL, PagingMode.FiveLevel, true)]
    [InlineData(0x0100_0000_0000_0000UL, PagingMode.FiveLevel, false)]
    [InlineData(0xff00_0000_0000_0000UL, PagingMode.FiveLevel, true)]
    public void Canonical_form_depends_on_paging_mode(ulong va, PagingMode mode, bool canonical) =>
        Assert.Equal(canonical, Paging.IsCanonical(va, mode));

    [Fact]
    public void Level_names_follow_the_kernel()
    {
        Assert.Equal("PGD", Paging.LevelName(4, PagingMode.FourLevel));
        Assert.Equal("P4D", Paging.LevelName(4, PagingMode.FiveLevel));
        Assert.Equal("PGD", Paging.LevelName(5, PagingMode.FiveLevel));
        Assert.Equal(PageSize.Size2M, Paging.LeafSize(2));
        Assert.Equal(3, PageSize.Size1G.LeafLevel());
    }

    [Fact]
    public void Kernel_layout_matches_linux()
    {
        KernelLayout four = KernelLayout.For(PagingMode.FourLevel);
        Assert.Equal(0xffff_8880_0000_0000UL, four.PageOffset);
        Assert.Equal(0xffff_ea00_0000_0000UL, four.VmemmapBase);
        Assert.Equal(1UL << 47, four.UserTop);
        Assert.Equal(0xffff_ea00_0000_0040UL, four.DescriptorAddress(1));
        Assert.Equal(12345UL, four.DescriptorPfn(four.DescriptorAddress(12345)));
        KernelLayout five = KernelLayout.For(PagingMode.FiveLevel);
        Assert.Equal(0xff11_0000_0000_0000UL, five.PageOffset);
        Assert.Equal(0xffd4_0000_0000_0000UL, five.VmemmapBase);
    }
}
