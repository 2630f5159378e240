using FastPt.Hardware;
using Xunit;
using static FastPt.Tests.TestMachines;

namespace FastPt.Tests.Tlb;

/// <summary>The fill's LRU move within a 2-way set (<c>SoftTlb.MakeRoomInWayZero</c>): a live way-0 entry moves to
/// way 1, a dead one is overwritten in place (way 1 keeps its entry), and an older copy of the page in way 1 is
/// replaced, so a set never holds two copies of one page.</summary>
public class SoftTlbLruTests
{
    // 64 entries: 32 sets, so pages 32 apart share a set.
    private const ulong P = 0x40_0000_0000;
    private const ulong Q = P + 32 * Page;
    private const ulong R = P + 64 * Page;

    private static int Fill(ref SoftTlb tlb, ulong page)
    {
        int slot = tlb.Claim(page, page, Page);
        ulong tag = tlb.HitTag(page, global: false);
        tlb.Write(slot, tag, tag, tag, 0, page, TlbDetail.Pack(page, 1, Protection.All, global: false), 0);
        return slot;
    }

    [Fact]
    public void A_fill_moves_only_live_entries_to_way_1_and_never_keeps_two_copies_of_a_page()
    {
        var tlb = new SoftTlb(64, 16);
        int way0 = Fill(ref tlb, P);
        Assert.Equal(way0, Fill(ref tlb, Q));
        // Q took way 0, the live P moved to way 1.
        Assert.Equal(Q, tlb.Entry(way0).Detail.Page);
        Assert.Equal(P, tlb.Entry(way0 + 1).Detail.Page);
        Assert.Equal(tlb.HitTag(P, global: false), tlb.Entry(way0 + 1).ReadTag);

        // Way 0 dead (Q flushed): R overwrites it in place and P stays in way 1, still live.
        tlb.FlushRange(Q, Q + Page, global: false);
        Fill(ref tlb, R);
        Assert.Equal(R, tlb.Entry(way0).Detail.Page);
        Assert.Equal(P, tlb.Entry(way0 + 1).Detail.Page);
        Assert.Equal(tlb.HitTag(P, global: false), tlb.Entry(way0 + 1).ReadTag);

        // Way 0 dead again, and P filled anew (as after its first write): the older copy in way 1 must go.
        tlb.FlushRange(R, R + Page, global: false);
        Fill(ref tlb, P);
        Assert.Equal(P, tlb.Entry(way0).Detail.Page);
        Assert.NotEqual(P, tlb.Entry(way0 + 1).Detail.Page);
        Assert.NotEqual(tlb.HitTag(P, global: false), tlb.Entry(way0 + 1).ReadTag);

        // A fill of the page way 0 already holds rewrites it in place: way 1 is untouched.
        Fill(ref tlb, Q);
        Assert.Equal(P, tlb.Entry(way0 + 1).Detail.Page);
        Fill(ref tlb, Q);
        Assert.Equal(Q, tlb.Entry(way0).Detail.Page);
        Assert.Equal(P, tlb.Entry(way0 + 1).Detail.Page);
    }

    [Fact]
    public void After_a_full_flush_no_stale_entry_displaces_a_live_one()
    {
        var tlb = new SoftTlb(64, 16);
        int way0 = Fill(ref tlb, P);
        Fill(ref tlb, Q);
        tlb.FlushUser();
        // Both ways are stale: R takes way 0 without moving stale Q, then P (live) is refilled: R moves to way 1.
        Fill(ref tlb, R);
        Assert.Equal(R, tlb.Entry(way0).Detail.Page);
        Fill(ref tlb, P);
        Assert.Equal(P, tlb.Entry(way0).Detail.Page);
        Assert.Equal(R, tlb.Entry(way0 + 1).Detail.Page);
        Assert.Equal(tlb.HitTag(R, global: false), tlb.Entry(way0 + 1).ReadTag);
    }
}
