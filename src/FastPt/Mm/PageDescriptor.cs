using System.Runtime.InteropServices;

namespace FastPt.Mm;

/// <summary>The 64-byte page descriptor (<c>struct page</c>), one per frame, stored in the vmemmap. All zero is
/// the valid "never touched" state (a free frame inside a buddy block, the head of a free max-order block boot kept
/// as a range, or a hole), so booting a large machine writes only the descriptors it must. The descriptors of
/// memblock-reserved frames are written on first use, from the reserved regions (<see cref="Memmap"/>'s deferred
/// init): until then their page of the memmap is untouched too.</summary>
/// <remarks>Tail descriptors of a compound page carry nothing specific to their own frame (the compound head is
/// the head's frame number, not a pointer to the tail), so every tail page of the vmemmap of a huge folio holds
/// identical bytes: that is what lets HugeTLB vmemmap optimization share one frame between them.</remarks>
[StructLayout(LayoutKind.Explicit, Size = 64)]
internal struct PageDescriptor
{
    /// <summary><see cref="PageFlags"/>; for page tables also the level in <see cref="PageFlags.LevelMask"/>.</summary>
    [FieldOffset(0)] public ulong Flags;

    /// <summary><c>lru.next</c> and, in the same word, <c>compound_info</c>: bit 0 set marks a tail page of a
    /// compound page (<see cref="Memmap.CompoundHead"/>). Every other use keeps bit 0 clear: a free-list link is
    /// (next frame + 1) &lt;&lt; 1 (0 = none). A tail holds its head's vmemmap address | 1 (Linux 6.x), or, in the
    /// shared-tail design, the mask that turns any tail's vmemmap address into its head's | 1, which is the same
    /// for every tail of every folio of one order.</summary>
    [FieldOffset(8)] public ulong LruNext;

    /// <summary>Free-list link: previous frame + 1 (0 = none).</summary>
    [FieldOffset(16)] public ulong LruPrev;

    /// <summary>For page tables: the owning address space's id (<c>pt_mm</c>).</summary>
    [FieldOffset(24)] public ulong Mapping;

    /// <summary>Buddy order of a free block's head (<c>page_private</c>), and of a user-data block's head; for
    /// page tables the split lock word or a handle of an allocated lock (<c>ptl</c>); for the head of a HugeTLB
    /// folio its <c>HPG_*</c> flags (<see cref="HugetlbPageFlags"/>).</summary>
    [FieldOffset(32)] public ulong Private;

    /// <summary>For the head of a page-table block: <c>pt_frag_refcount</c> (fragments not yet freed, plus 0x10000
    /// per pending deferral in the <see cref="FastPt.PteFreeDeferScheme.DeferredRefcount"/> scheme).</summary>
    [FieldOffset(40)] public int FragmentRefCount;

    /// <summary><c>_refcount</c>.</summary>
    [FieldOffset(44)] public int RefCount;

    /// <summary>RCU head (<c>rcu_head.next</c>). The queue itself is the RCU domain's ring, so while a page-table
    /// block's head is queued this holds the RCU epoch it was queued in; 0 when not queued.</summary>
    [FieldOffset(48)] public ulong RcuNext;

    /// <summary>RCU head: what to do after the grace period (<c>rcu_head.func</c>): for a page-table block the
    /// <see cref="PteFreeDefer"/> function queued, 0 when the head is free; also the folio order for the first tail
    /// of a compound page.</summary>
    [FieldOffset(56)] public ulong RcuFunc;
}

/// <summary>Bits of <see cref="PageDescriptor.Flags"/>.</summary>
internal static class PageFlags
{
    /// <summary>PG_reserved: never handed to the buddy allocator (boot memory, holes, memblock allocations).</summary>
    public const ulong Reserved = 1UL << 0;

    /// <summary>PG_head: first page of a compound page.</summary>
    public const ulong Head = 1UL << 1;

    /// <summary>PageBuddy: head of a free block in the buddy allocator; the order is in Private.</summary>
    public const ulong Buddy = 1UL << 2;

    /// <summary>PageTable: the frame holds a page table (after its constructor ran).</summary>
    public const ulong Table = 1UL << 3;

    /// <summary>PageHugeTLB.</summary>
    public const ulong HugeTlb = 1UL << 4;

    /// <summary>Frame of an altmap: hosts memmap of the range it belongs to (PageVmemmapSelfHosted).</summary>
    public const ulong VmemmapSelfHosted = 1UL << 5;

    /// <summary>Checked mode: the frame was freed and filled with poison.</summary>
    public const ulong Poisoned = 1UL << 6;

    /// <summary>The frame was allocated at boot by memblock for memmap or page tables (bootmem info).</summary>
    public const ulong BootMemory = 1UL << 7;

    /// <summary>Allocated (refcount held) by the buddy allocator: used by checked mode and the busy check.</summary>
    public const ulong Allocated = 1UL << 8;

    /// <summary>Head of a block of user data from <c>Machine.AllocatePhysical</c>; its order is in
    /// <see cref="PageDescriptor.Private"/>, so a free of another size is refused.</summary>
    public const ulong UserData = 1UL << 9;

    /// <summary>Page-table level (1..5) of a table page.</summary>
    public const ulong LevelMask = 0xFUL << LevelShift;
    public const int LevelShift = 12;

    /// <summary>Owner of a table page is the kernel (init_mm).</summary>
    public const ulong KernelTable = 1UL << 16;

    /// <summary>The frame is one PTE table (fragment) of a page-table block; the block's first frame holds the
    /// block state (<see cref="PageDescriptor.FragmentRefCount"/>, the RCU head).</summary>
    public const ulong PteFragment = 1UL << 17;

    /// <summary>First frame of a page-table block: its descriptor is the block's (<c>ptdesc</c>).</summary>
    public const ulong PteBlock = 1UL << 18;

    /// <summary>The fragment was handed out to an address space and not freed yet.</summary>
    public const ulong FragmentInUse = 1UL << 19;

    /// <summary>The fragment was freed or deferred; its memory goes with the block.</summary>
    public const ulong FragmentRetired = 1UL << 20;

    /// <summary>PG_active on a block head: a fragment was deferred, so the last reference frees the block only after
    /// a grace period (the merged <c>pte_free_defer</c> scheme).</summary>
    public const ulong Active = 1UL << 21;

    /// <summary>The zone number in <c>page->flags</c> (set: ZONE_MOVABLE). Only compound pages carry it here (every
    /// other descriptor may stay all zero): their tails must, because in the shared-tail design one tail page serves
    /// every folio of an order in a zone, and its descriptors have to name that zone.</summary>
    public const ulong ZoneMovable = 1UL << 22;

    /// <summary>PG_slab: the frame holds allocated page-table locks (<see cref="PtlockCache"/>).</summary>
    public const ulong Slab = 1UL << 28;

    /// <summary>The table's descriptor holds a split page-table lock (inline word or allocated handle) that the
    /// destructor must free.</summary>
    public const ulong HasPtlock = 1UL << 29;

    public static int LevelOf(ulong flags) => (int)((flags & LevelMask) >> LevelShift);
}

/// <summary>The HugeTLB-specific flags of a folio (<c>enum hugetlb_page_flags</c>), kept in the head's
/// <see cref="PageDescriptor.Private"/>.</summary>
internal static class HugetlbPageFlags
{
    /// <summary>HPG_vmemmap_optimized: the folio's tail vmemmap pages are remapped read-only and freed.</summary>
    public const ulong VmemmapOptimized = 1UL << 0;

    /// <summary>HPG_freed: the folio is on the pool's free list.</summary>
    public const ulong Freed = 1UL << 1;
}
