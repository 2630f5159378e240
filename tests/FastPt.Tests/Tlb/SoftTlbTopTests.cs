using FastPt.Hardware;
using Xunit;
using static FastPt.Tests.TestMachines;

namespace FastPt.Tests.Tlb;

/// <summary>The software TLB at the top of the address space, where an exclusive end is 2^64 = 0: a ranged flush
/// ending there drops the top page, and a cached huge leaf ending there is still known to a ranged flush.</summary>
public class SoftTlbTopTests
{
    private static readonly ulong TopPage = TopMinus(Page);

    [Fact]
    public void A_flush_ending_at_2_to_the_64_drops_the_top_page()
    {
        var tlb = new SoftTlb(64, 16);
        int slot = tlb.Claim(TopPage, TopPage, Page);
        ulong tag = tlb.HitTag(TopPage, global: false);
        tlb.Write(slot, tag, tag, tag, 0, 0x5000, TlbDetail.Pack(TopPage, 1, Protection.All, global: false), 0);
        Assert.Equal(tag, tlb.Entry(slot).ReadTag);
        tlb.FlushRange(TopPage - 4 * Page, 0, global: false);
        Assert.Equal(SoftTlb.InvalidBit, tlb.Entry(slot).ReadTag & SoftTlb.InvalidBit);
        Assert.NotEqual(tag, tlb.Entry(slot).ReadTag);
    }

    [Fact]
    public void A_ranged_flush_inside_a_cached_huge_leaf_at_the_top_flushes_everything()
    {
        var tlb = new SoftTlb(64, 16);
        ulong epoch = tlb.UserEpoch;
        // A 4 KiB piece of the last 2 MiB leaf below 2^64 is cached: [2^64 - 2 MiB, 2^64).
        tlb.Claim(TopPage, TopMinus(2 * MiB), 2 * MiB);
        tlb.FlushRange(TopMinus(2 * MiB) + 5 * Page, TopMinus(2 * MiB) + 6 * Page, global: false);
        Assert.NotEqual(epoch, tlb.UserEpoch);
        // Below the leaf, a ranged flush stays ranged.
        epoch = tlb.UserEpoch;
        tlb.Claim(TopPage, TopMinus(2 * MiB), 2 * MiB);
        tlb.FlushRange(TopMinus(4 * MiB), TopMinus(4 * MiB) + Page, global: false);
        Assert.Equal(epoch, tlb.UserEpoch);
    }
}
