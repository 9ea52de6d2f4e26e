"""Label-only views of the datasets, for prediction sources that never look at pixels (a predictions file).

Decoding the 5.5k benchmark images costs seconds that scoring a predictions file does not need, so the evaluator
reads keys and labels straight from a folder's label list or an LMDB's label keys. Items are ``Sample`` records with
``image=None``, keyed exactly as the full readers key them. Because no image is opened, an unreadable image is not
detected here: its sample is scored against whatever the predictions file says for it.
"""

from __future__ import annotations

from torch.utils.data import ConcatDataset, Dataset, Subset

from sgtr.data import lmdb_format as fmt
from sgtr.data.datasets import FolderDataset, LmdbDataset
from sgtr.data.sample import Sample
from sgtr.data.skips import Skip


class _FolderLabels(Dataset):
    def __init__(self, dataset: FolderDataset):
        self.items = dataset.items
        self.list_skips = dataset.list_skips

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: int) -> Sample:
        item = self.items[index]
        return Sample(str(item.path), None, item.label)


class _LmdbLabels(Dataset):
    def __init__(self, dataset: LmdbDataset):
        self.dataset = dataset

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, index: int) -> Sample | Skip:
        key = self.dataset.key(index)
        with self.dataset.env.begin() as txn:
            raw = txn.get(fmt.label_key(index + 1))
        if raw is None:
            return Skip(key, "image or label key missing from the LMDB")
        try:
            return Sample(key, None, raw.decode("utf-8"))
        except UnicodeDecodeError:
            return Skip(key, "label is not valid UTF-8")


def labels_only(dataset: Dataset) -> Dataset:
    """The label-only view of a reader from ``sgtr.data.datasets``; any other dataset is returned as it is."""
    if isinstance(dataset, FolderDataset):
        return _FolderLabels(dataset)
    if isinstance(dataset, LmdbDataset):
        return _LmdbLabels(dataset)
    if isinstance(dataset, ConcatDataset):
        return ConcatDataset([labels_only(d) for d in dataset.datasets])
    if isinstance(dataset, Subset):
        return Subset(labels_only(dataset.dataset), dataset.indices)
    return dataset
