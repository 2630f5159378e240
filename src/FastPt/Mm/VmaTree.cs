using System;
using System.Collections.Generic;
using System.Threading;

namespace FastPt.Mm;

/// <summary>The anonymous regions of an address space, ordered by address (the kernel's maple tree of VMAs): a
/// persistent AVL tree, so that a lookup is O(log n) and takes no lock at all — it reads one published root and
/// immutable nodes — while a change (under the mmap lock) copies the O(log n) nodes on its paths and publishes a new
/// root with a release store. A reader holding an old root keeps reading a consistent old tree; the garbage
/// collector frees it after the last reader, which is the grace period the kernel gets from RCU.</summary>
internal sealed class VmaTree
{
    private sealed class Node
    {
        public Node(VmArea vma, Node? left, Node? right)
        {
            Vma = vma;
            Left = left;
            Right = right;
            Height = 1 + Math.Max(HeightOf(left), HeightOf(right));
        }

        public readonly VmArea Vma;
        public readonly Node? Left;
        public readonly Node? Right;
        public readonly int Height;
    }

    private Node? _root;
    private int _count;

    /// <summary>Regions in the tree.</summary>
    public int Count => Volatile.Read(ref _count);

    /// <summary>The region holding <paramref name="va"/>, or null (<c>vma_lookup</c>). Lock-free.</summary>
    public VmArea? Find(ulong va)
    {
        Node? node = Volatile.Read(ref _root);
        while (node is not null)
        {
            VmArea vma = node.Vma;
            if (va < vma.Start) node = node.Left;
            else if (va > vma.Last) node = node.Right;
            else return vma;
        }
        return null;
    }

    /// <summary>The regions overlapping [<paramref name="start"/>, <paramref name="last"/>] (inclusive, so that a
    /// range ending at 2^64 is expressible), in address order.</summary>
    public List<VmArea> Overlapping(ulong start, ulong last)
    {
        var result = new List<VmArea>();
        Collect(Volatile.Read(ref _root), start, last, result);
        return result;
    }

    private static void Collect(Node? node, ulong start, ulong last, List<VmArea> result)
    {
        if (node is null) return;
        VmArea vma = node.Vma;
        if (start < vma.Start) Collect(node.Left, start, last, result);
        if (vma.Start <= last && start <= vma.Last) result.Add(vma);
        if (last > vma.Last) Collect(node.Right, start, last, result);
    }

    /// <summary>The lowest region overlapping [<paramref name="start"/>, <paramref name="last"/>] (inclusive, so a
    /// range ending at 2^64 is expressible), or null; allocates nothing (regions do not overlap, so their ends are
    /// ordered like their starts).</summary>
    public VmArea? FirstOverlapping(ulong start, ulong last)
    {
        Node? node = Volatile.Read(ref _root);
        VmArea? first = null;
        while (node is not null)
        {
            VmArea vma = node.Vma;
            if (vma.Last < start)
            {
                node = node.Right;
                continue;
            }
            if (vma.Start <= last) first = vma;
            node = node.Left;
        }
        return first;
    }

    /// <summary>Every region, in address order.</summary>
    public List<VmArea> All() => Overlapping(0, ulong.MaxValue);

    /// <summary>Removes <paramref name="remove"/> and adds <paramref name="add"/> in one published change (under
    /// the mmap lock). The regions added must not overlap any that stay.</summary>
    public void Replace(IReadOnlyList<VmArea> remove, IReadOnlyList<VmArea> add)
    {
        Node? root = _root;
        foreach (VmArea vma in remove) root = Remove(root, vma);
        foreach (VmArea vma in add) root = Insert(root, vma);
        // Release: a reader that sees the new root sees every node it reaches fully built.
        Volatile.Write(ref _root, root);
        Volatile.Write(ref _count, _count - remove.Count + add.Count);
    }

    private static int HeightOf(Node? node) => node?.Height ?? 0;

    private static Node Insert(Node? node, VmArea vma)
    {
        if (node is null) return new Node(vma, null, null);
        return vma.Start < node.Vma.Start
            ? Balance(node.Vma, Insert(node.Left, vma), node.Right)
            : Balance(node.Vma, node.Left, Insert(node.Right, vma));
    }

    private static Node? Remove(Node? node, VmArea vma)
    {
        if (node is null) throw new InvalidOperationException($"region {vma} is not in the tree");
        if (vma.Start < node.Vma.Start) return Balance(node.Vma, Remove(node.Left, vma), node.Right);
        if (vma.Start > node.Vma.Start) return Balance(node.Vma, node.Left, Remove(node.Right, vma));
        if (!ReferenceEquals(node.Vma, vma)) throw new InvalidOperationException($"region {vma} is not in the tree");
        if (node.Left is null) return node.Right;
        if (node.Right is null) return node.Left;
        Node min = node.Right;
        while (min.Left is not null) min = min.Left;
        return Balance(min.Vma, node.Left, RemoveMin(node.Right));
    }

    private static Node? RemoveMin(Node node) =>
        node.Left is null ? node.Right : Balance(node.Vma, RemoveMin(node.Left), node.Right);

    /// <summary>A node for <paramref name="vma"/> over two subtrees whose heights differ by at most two, rotated
    /// back to AVL balance.</summary>
    private static Node Balance(VmArea vma, Node? left, Node? right)
    {
        int difference = HeightOf(left) - HeightOf(right);
        if (difference > 1)
        {
            if (HeightOf(left!.Left) >= HeightOf(left.Right))
                return new Node(left.Vma, left.Left, new Node(vma, left.Right, right));
            Node pivot = left.Right!;
            return new Node(pivot.Vma, new Node(left.Vma, left.Left, pivot.Left), new Node(vma, pivot.Right, right));
        }
        if (difference < -1)
        {
            if (HeightOf(right!.Right) >= HeightOf(right.Left))
                return new Node(right.Vma, new Node(vma, left, right.Left), right.Right);
            Node pivot = right.Left!;
            return new Node(pivot.Vma, new Node(vma, left, pivot.Left), new Node(right.Vma, pivot.Right, right.Right));
        }
        return new Node(vma, left, right);
    }

    /// <summary>Height of the tree (for the test that it stays logarithmic).</summary>
    internal int Height => HeightOf(Volatile.Read(ref _root));
}
