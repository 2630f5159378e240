using System;
using System.Runtime.CompilerServices;

namespace FastPt.Mm;

/// <summary>Page-table pages by level, 1 (PTE) to 4 (P4D, the highest level below a 5-level root).</summary>
[InlineArray(5)]
internal struct LevelCounts
{
    private long _element;
}

/// <summary>The table a walk is in at each level (index = level), kept by operations that lock the table of the
/// entry they change.</summary>
[InlineArray(6)]
internal struct WalkTables
{
    private ulong _element;
}

/// <summary>How many tables of each level an operation's commit will need: what its check pass counts, so that
/// every table can be allocated and constructed (and its constructor can fail) before anything changes.</summary>
internal struct TableDemand
{
    private LevelCounts _counts;

    public void Add(int level, long count) => _counts[level] += count;

    public readonly long this[int level] => _counts[level];

    public readonly long Total => _counts[1] + _counts[2] + _counts[3] + _counts[4];

    public override readonly string ToString() =>
        FormattableString.Invariant($"{Total} page-table pages ({_counts[1]} PTE, {_counts[2]} PMD, {_counts[3]} PUD, {_counts[4]} P4D)");
}

/// <summary>Constructed tables allocated up front, handed out by level during a commit; whatever is left is
/// freed unpublished afterwards. The frames live in <see cref="MmStruct.Pool"/>'s scratch array (one range per
/// level), which range operations use under the mmap lock only.</summary>
internal struct TablePool
{
    private readonly ulong[] _frames;
    private LevelCounts _start;
    private LevelCounts _count;
    private LevelCounts _used;
    private readonly MmStruct? _fragmentsOf;

    /// <summary>A pool over <paramref name="frames"/>, laid out level by level as <paramref name="demand"/> says. With
    /// <paramref name="fragmentsOf"/>, PTE tables are not frames of the array but fragments that address space's
    /// cursor reserved (<see cref="PteFragments.TryReserve"/>), taken from it one by one.</summary>
    public TablePool(ulong[] frames, in TableDemand demand, MmStruct? fragmentsOf = null)
    {
        _frames = frames;
        _fragmentsOf = fragmentsOf;
        long offset = 0;
        for (int level = 1; level <= 4; level++)
        {
            _start[level] = offset;
            _count[level] = demand[level];
            if (level != 1 || fragmentsOf is null) offset += demand[level];
        }
    }

    /// <summary>The address space whose fragment cursor holds this pool's PTE tables; null when they are frames.</summary>
    public readonly MmStruct? FragmentsOf => _fragmentsOf;

    /// <summary>An empty pool.</summary>
    public static TablePool Empty => new([], default);

    /// <summary>All frames of the pool, level by level.</summary>
    public readonly ReadOnlySpan<ulong> Frames => _frames.AsSpan(0, (int)(_start[4] + _count[4]));

    /// <summary>A constructed table of <paramref name="level"/>; the check pass counted it, so running out is a bug.</summary>
    public ulong Take(int level)
    {
        if (_used[level] == _count[level])
            throw new InvalidOperationException($"commit ran out of preallocated level-{level} tables ({_count[level]} counted)");
        if (level == 1 && _fragmentsOf is not null)
        {
            _used[1]++;
            return _fragmentsOf.Memory.Fragments.Take(_fragmentsOf); // reserved, so it cannot fail
        }
        return _frames[_start[level] + _used[level]++];
    }

    /// <summary>Tables of <paramref name="level"/> taken so far.</summary>
    public readonly long Used(int level) => _used[level];

    /// <summary>Tables taken, all levels.</summary>
    public readonly long TotalUsed => _used[1] + _used[2] + _used[3] + _used[4];

    /// <summary>Tables of <paramref name="level"/> in the pool.</summary>
    public readonly long Count(int level) => _count[level];

    /// <summary>The <paramref name="index"/>-th table of <paramref name="level"/>.</summary>
    public readonly ulong At(int level, long index) =>
        level == 1 && _fragmentsOf is not null
            ? throw new InvalidOperationException("PTE tables of a fragment pool are taken from the cursor, not indexed")
            : _frames[_start[level] + index];

    /// <summary>Unused tables, all levels.</summary>
    public readonly long Unused => _count[1] + _count[2] + _count[3] + _count[4] - TotalUsed;
}
