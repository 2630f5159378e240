using System.Runtime.CompilerServices;
using System.Threading;
using FastPt.Geometry;

namespace FastPt.Mm;

/// <summary>Compound pages as the descriptors encode them (<c>include/linux/page-flags.h</c>): a tail has bit 0 of
/// <c>compound_info</c> (<see cref="PageDescriptor.LruNext"/>) set, and the rest says where its head is. Two
/// encodings, chosen per machine, because HugeTLB vmemmap optimization depends on them:
/// <list type="bullet">
/// <item>Linux 6.x: the head's vmemmap address. After optimization every tail vmemmap page of a folio maps the head's
/// page, so the first descriptor of each of those pages reads as the head ("fake head": PG_head set), and
/// <see cref="CompoundHead"/> must recognise it by its page-aligned address and the real tail after it.</item>
/// <item>The 2026 shared-tail series: a mask that turns the tail's own vmemmap address into its head's. Every tail of
/// every folio of one order is then byte-identical, one read-only page of tails serves them all, and
/// <see cref="CompoundHead"/> is one load and an AND.</item>
/// </list></summary>
internal sealed unsafe partial class Memmap
{
    /// <summary>Folios whose vmemmap is optimized now (<c>hugetlb_optimize_vmemmap_key</c>, a static key in the
    /// kernel): while it is 0 the 6.x <see cref="CompoundHead"/> skips the fake-head check.</summary>
    private int _optimizedFolios;

    /// <summary>True when tails encode their head by mask (the shared-tail design).</summary>
    public bool CompoundInfoIsMask => _compoundInfoIsMask;

    /// <summary>Folios whose vmemmap is optimized now.</summary>
    public int OptimizedFolios => Volatile.Read(ref _optimizedFolios);

    /// <summary><c>static_branch_inc(&amp;hugetlb_optimize_vmemmap_key)</c>: called before a folio's vmemmap is
    /// remapped, so that no reader skips the fake-head check while fake heads can exist.</summary>
    public void OptimizedFolioAdded() => Interlocked.Increment(ref _optimizedFolios);

    /// <summary><c>static_branch_dec</c>: after a folio's vmemmap was restored (or its optimization undone).</summary>
    public void OptimizedFolioRemoved() => Interlocked.Decrement(ref _optimizedFolios);

    /// <summary>The <c>compound_info</c> a tail of an order-<paramref name="order"/> folio headed by
    /// <paramref name="headPfn"/> carries in this machine's encoding.</summary>
    public ulong TailInfo(ulong headPfn, int order) =>
        _compoundInfoIsMask ? TailMask(order) : _layout.DescriptorAddress(headPfn) | 1;

    /// <summary>The shared-tail encoding: the mask clearing the bits that index a descriptor within its folio's
    /// (naturally aligned) descriptor array, with bit 0 set.</summary>
    public static ulong TailMask(int order) => ~((1UL << (order + KernelLayout.DescriptorShift)) - 1) | 1;

    /// <summary><c>compound_head()</c>: the frame of the head of the compound page <paramref name="pfn"/> belongs
    /// to, or <paramref name="pfn"/> when it is not a tail.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public ulong CompoundHead(ulong pfn)
    {
        ulong va = _layout.DescriptorAddress(pfn);
        return _layout.DescriptorPfn(_compoundInfoIsMask ? CompoundHeadByMask(va) : CompoundHeadFakeHeadAware(va));
    }

    /// <summary>The shared-tail <c>_compound_head()</c> on a descriptor address: a tail's info is a mask, applied
    /// to the tail's own address.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public ulong CompoundHeadByMask(ulong va)
    {
        ulong info = Volatile.Read(ref GetAt(va)->LruNext);
        // Descriptor addresses are 64-byte aligned, so bit 0 of the mask clears nothing of va.
        return (info & 1) != 0 ? va & info : va;
    }

    /// <summary>The Linux 6.x <c>_compound_head()</c> on a descriptor address: a tail's info is its head's address
    /// + 1; a descriptor that reads as a head may be a fake one (<c>page_fixed_fake_head</c>).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public ulong CompoundHeadFakeHeadAware(ulong va)
    {
        PageDescriptor* page = GetAt(va);
        ulong info = Volatile.Read(ref page->LruNext);
        if ((info & 1) != 0) return info - 1;
        return FixedFakeHead(va, page);
    }

    /// <summary><c>page_fixed_fake_head</c>: only the first descriptor of a vmemmap page can be a fake head, and
    /// only while some folio is optimized. Its neighbour in the same page is then a real tail naming the real head
    /// (the remapped page is the head's page, whose second descriptor is the first tail).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private ulong FixedFakeHead(ulong va, PageDescriptor* page)
    {
        if (Volatile.Read(ref _optimizedFolios) == 0) return va;
        if ((va & (Paging.PageSize - 1)) != 0 || (Volatile.Read(ref page->Flags) & PageFlags.Head) == 0) return va;
        ulong next = Volatile.Read(ref page[1].LruNext);
        return (next & 1) != 0 ? next - 1 : va;
    }

    /// <summary><c>PageTail()</c>: true for every tail, fake heads included.</summary>
    public bool PageTail(ulong pfn) => CompoundHead(pfn) != pfn;

    /// <summary><c>PageHead()</c>: PG_head set and not a fake head.</summary>
    public bool PageHead(ulong pfn) => (Get(pfn)->Flags & PageFlags.Head) != 0 && CompoundHead(pfn) == pfn;

    /// <summary><c>page_count_writable()</c>: whether a speculative reference may be written into the descriptor at
    /// <paramref name="va"/>. The refcount is read first (acquire): a tail's is 0, and a folio being remapped is
    /// frozen at 0 before the grace period that precedes the remap. In 6.x a fake head shows the head's count, so it
    /// must be recognised as well; with mask-encoded tails there are none.</summary>
    private bool PageCountWritable(ulong va, PageDescriptor* page, int unless)
    {
        if (Volatile.Read(ref page->RefCount) == unless) return false;
        return _compoundInfoIsMask || FixedFakeHead(va, page) == va;
    }

    /// <summary><c>page_ref_add_unless()</c>: adds <paramref name="count"/> to the refcount of <paramref name="pfn"/>
    /// unless it is <paramref name="unless"/>, locklessly, the way speculative PFN walkers do: inside an RCU
    /// read-side section, so HugeTLB vmemmap optimization (which waits for a grace period between freezing a folio's
    /// refcount and remapping its vmemmap) never has a write land in a page it is copying.</summary>
    public bool PageRefAddUnless(ulong pfn, int count, int unless)
    {
        ulong va = _layout.DescriptorAddress(pfn);
        _rcu.ReadLock();
        try
        {
            if (!PageCountWritable(va, GetAt(va), unless)) return false;
            ref int refcount = ref GetMutableAt(va)->RefCount;
            int current = Volatile.Read(ref refcount);
            while (current != unless)
            {
                int seen = Interlocked.CompareExchange(ref refcount, current + count, current);
                if (seen == current) return true;
                current = seen;
            }
            return false;
        }
        finally
        {
            _rcu.ReadUnlock();
        }
    }

    /// <summary><c>page_ref_sub()</c> of a reference taken with <see cref="PageRefAddUnless"/>.</summary>
    public void PageRefSub(ulong pfn, int count) => Interlocked.Add(ref GetMutable(pfn)->RefCount, -count);
}
