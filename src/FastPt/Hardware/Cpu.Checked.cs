using FastPt.Geometry;
using FastPt.Internals;

namespace FastPt.Hardware;

// Checked mode: every hit and every walk verifies that what it reached was not freed (the free poison in a table,
// the poison flag of a frame's descriptor, which only the memory manager can read: asked through TFrames).
internal unsafe partial struct Cpu<TFrames>
{
    /// <summary>Checked mode: the frame a translation reached must not have been freed.</summary>
    private void VerifyFrame(ulong v, ulong physPage)
    {
        if (!_frames.IsFreed(physPage >> Paging.PageShift)) return;
        _frames.CountUseAfterFree();
        ThrowHelper.ThrowUseAfterFreeFrame(Number, v, physPage);
    }

    /// <summary>Checked mode found a freed table on a walk: counts it and builds the report.</summary>
    private UseAfterFreeException UseAfterFree(ulong va, in WalkResult walk)
    {
        _frames.CountUseAfterFree();
        return ThrowHelper.UseAfterFree(va, walk.TablePa, walk.Level, walk.Entry);
    }
}
