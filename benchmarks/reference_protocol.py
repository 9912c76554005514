"""A straightforward scene search evaluation written the way SeqNet's eval_func.py is:
python loops over queries and gallery images, sklearn's average_precision_score, a
per-pair IoU. It is the yardstick for personsearch.evaluation, not part of the library.

Inputs are SeqNet's: per gallery image an (n, 5) x1y1x2y2score array and its features;
with weight_by_score the features are multiplied by their scores first, as SeqNet's model
does (confidence-weighted similarity), and CBGM then runs on those weighted features; per
query image for CBGM, its detections with the query box first (score 1) and the query
feature first, of which the first k2 rows are the graph's query side (unweighted).

Differences from SeqNet, all matching the library's documented choices: a duplicate
gallery entry is skipped before counting ground truth; queries without ground truth are
skipped; Kuhn-Munkres is scipy's linear_sum_assignment (same optimum, the maximum-weight
matching of the smaller side).
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import linear_sum_assignment
from sklearn.metrics import average_precision_score


def compute_iou(a, b):
    x1 = max(a[0], b[0])
    y1 = max(a[1], b[1])
    x2 = min(a[2], b[2])
    y2 = min(a[3], b[3])
    inter = max(0, x2 - x1) * max(0, y2 - y1)
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter * 1.0 / union


def reference_search(data, gallery_dets, gallery_feats, query_feats, det_thresh=0.5,
                     cross_camera=False, query_dets=None, query_det_feats=None, k1=None, k2=None,
                     weight_by_score=False):
    """gallery_dets[i]: (n, 5) x1y1x2y2score of data.gallery[i]; gallery_feats[i]: (n, D).
    query_dets[q] / query_det_feats[q]: detections of query q's image, the query box and
    feature first (CBGM only)."""
    annos = data.gallery
    if weight_by_score:
        gallery_feats = [feat * det[:, 4:5] for det, feat in zip(gallery_dets, gallery_feats)]
    name_to_det_feat = {}
    for anno, det, feat in zip(annos, gallery_dets, gallery_feats):
        inds = np.where(det[:, 4] >= det_thresh)[0]
        if len(inds) > 0:
            name_to_det_feat[anno.name] = (det[inds], feat[inds])

    aps, accs, skipped = [], [], 0
    topk = [1, 5, 10]
    for i, query in enumerate(data.queries):
        feat_p = query_feats[i].ravel()
        if query.gallery is not None:
            gallery_imgs, query_gts, seen = [], {}, set()
            for entry in query.gallery:
                if entry.name in seen:
                    continue
                seen.add(entry.name)
                gallery_imgs.append(entry.name)
                if entry.gt_box is not None:
                    query_gts[entry.name] = np.asarray(entry.gt_box)
        else:
            query_gts = {}
            for x in annos:
                if query.pid in x.pids and x.name != query.name:
                    query_gts[x.name] = x.boxes[x.pids == query.pid][0]
            gallery_imgs = [x.name for x in annos if x.name != query.name
                            and not (cross_camera and x.camera == query.camera)]
            query_gts = {k: v for k, v in query_gts.items() if k in set(gallery_imgs)}

        count_gt, count_tp = 0, 0
        y_true, y_score = [], []
        name2sim = {}
        sims, imgs_cbgm = [], []
        for gallery_imname in gallery_imgs:
            count_gt += gallery_imname in query_gts
            if gallery_imname not in name_to_det_feat:
                continue
            det, feat_g = name_to_det_feat[gallery_imname]
            sim = feat_g.dot(feat_p).ravel()
            name2sim[gallery_imname] = sim
            sims.extend(list(sim))
            imgs_cbgm.extend([gallery_imname] * len(sim))
        if count_gt == 0:
            skipped += 1
            continue

        if k1 is not None:
            sims = np.array(sims)
            imgs_cbgm = np.array(imgs_cbgm)
            inds = np.argsort(sims)[-k1:]
            for img in set(imgs_cbgm[inds]):
                sim = name2sim[img]
                det, feat_g = name_to_det_feat[img]
                assert np.abs(query_dets[i][0, :4] - query.box).sum() <= 0.001, "query box must come first"
                qfeats = query_det_feats[i][:k2]
                graph = np.zeros((len(qfeats), len(feat_g)))
                for a, pfeat in enumerate(qfeats):
                    for b, gfeat in enumerate(feat_g):
                        graph[a, b] = (pfeat * gfeat).sum()
                rows, cols = linear_sum_assignment(graph, maximize=True)
                max_val = max(graph[a, b] for a, b in zip(rows, cols))
                for a, b in zip(rows, cols):
                    if a == 0:
                        sim[b] = max_val
                        break

        for gallery_imname, sim in name2sim.items():
            det, feat_g = name_to_det_feat[gallery_imname]
            label = np.zeros(len(sim), dtype=np.int32)
            if gallery_imname in query_gts:
                gt = query_gts[gallery_imname].ravel()
                w, h = gt[2] - gt[0], gt[3] - gt[1]
                iou_thresh = min(0.5, (w * h * 1.0) / ((w + 10) * (h + 10)))
                inds = np.argsort(sim)[::-1]
                sim = sim[inds]
                det = det[inds]
                for j, roi in enumerate(det[:, :4]):
                    if compute_iou(roi, gt) >= iou_thresh:
                        label[j] = 1
                        count_tp += 1
                        break
            y_true.extend(list(label))
            y_score.extend(list(sim))

        y_score = np.asarray(y_score)
        y_true = np.asarray(y_true)
        recall_rate = count_tp * 1.0 / count_gt
        ap = 0 if count_tp == 0 else average_precision_score(y_true, y_score) * recall_rate
        aps.append(ap)
        inds = np.argsort(y_score)[::-1]
        y_true = y_true[inds]
        accs.append([min(1, sum(y_true[:k])) for k in topk])

    accs = np.mean(accs, axis=0)
    return {"mAP": 100.0 * np.mean(aps), "top1": 100.0 * accs[0], "top5": 100.0 * accs[1],
            "top10": 100.0 * accs[2], "num_queries": len(aps), "num_skipped": skipped}
