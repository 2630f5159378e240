namespace FastPt.Mm;

/// <summary>What HugeTLB and the vmemmap code ask of the allocator besides blocks: turning a block split by
/// <see cref="SplitPage"/> (a 2 MiB vmemmap block whose PMD became PTEs) back into one, and whether a frame heads a
/// free block.</summary>
internal sealed unsafe partial class BuddyAllocator
{
    /// <summary>Undoes <see cref="SplitPage"/> while every page of the block is still allocated: the block is one
    /// allocation of <paramref name="order"/> again.</summary>
    public void UnsplitPage(ulong pfn, int order)
    {
        for (ulong p = pfn + 1; p < pfn + (1UL << order); p++)
        {
            PageDescriptor* d = _memmap.GetMutable(p);
            d->Flags &= PageFlags.Poisoned;
            d->RefCount = 0;
        }
    }

    /// <summary>True when <paramref name="pfn"/> is the head of a free block (<c>PageBuddy</c>), linked or kept as
    /// a deferred max-order range (whose head descriptor reads as zero).</summary>
    public bool IsBuddyHead(ulong pfn) =>
        (_memmap.Get(pfn)->Flags & PageFlags.Buddy) != 0 || IsDeferredBlock(pfn);
}
