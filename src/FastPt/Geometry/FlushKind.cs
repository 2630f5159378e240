namespace FastPt;

/// <summary>Kinds of TLB invalidation.</summary>
public enum FlushKind
{
    /// <summary>One page (<c>invlpg</c>).</summary>
    Page = 0,

    /// <summary>A range of pages, below the full-flush threshold.</summary>
    Range = 1,

    /// <summary>Everything non-global (a CR3 reload), or a range above the threshold.</summary>
    All = 2,

    /// <summary>A kernel range: global entries too.</summary>
    Kernel = 3,
}
