"""Deep-learning radiomics on multimodal sacroiliac-joint MRI to diagnose axSpA-related sacroiliitis: segmentation, 3D CNNs, stacking, combined clinical model and auditable statistics.

Modules:

- `sacroiliitis_dlr.classification`: The base models: 3D ResNet50, ResNet101 and DenseNet121 trained on each MRI modality's SIJ ROI, with out-of-fold probabilities for the training cohort, fold-averaged probabilities for the test cohort, and Grad-CAM overlays.
- `sacroiliitis_dlr.cli`: `sacroiliitis-dlr`: one console script with a subcommand per job (synthesise, import DICOM, validate, run, predict, evaluate at another site, report).
- `sacroiliitis_dlr.combined`: Clinical factor selection, the clinical and combined (DLR signature + clinical) logistic models, their nomogram, the comparisons on the test cohort, and prediction for a new patient.
- `sacroiliitis_dlr.dicom`: Each patient's DICOM series converted to de-identified NIfTI under a pseudonymous ID, mapped to modalities by SeriesDescription rules, with the `manifest.csv` that `data.load_cohort` reads; and one study's series, by the same rules, for `predict --dicom`.
- `sacroiliitis_dlr.external`: A finished run applied, without training, to a labelled cohort from another site: the same statistics and figures as the internal test cohort, the model updated to the site when the site's patients ask for it, and a derived bundle.
- `sacroiliitis_dlr.jobs`: The classification grid's fold models as jobs on an existing engine: submitit, a SLURM job array on a cluster or processes on this machine, with one GPU per job, requeue after a preemption or a time-out, and resume from the finished fold models.
- `sacroiliitis_dlr.metrics`: Discrimination, calibration and clinical utility of a risk model: AUC with confidence intervals, DeLong tests, cut-off metrics, Hosmer-Lemeshow, calibration, decision curves and NRI/IDI, the minimum sample size (Riley), Harrell's bootstrap optimism correction and a band for the calibration curve, each checked against an independent computation.
- `sacroiliitis_dlr.plots`: Print-ready figures of the evaluation: ROC curves, calibration, decision curves, DeLong p-values and odds ratios, in one style, saved as 300-dpi PNG and PDF.
- `sacroiliitis_dlr.predict`: A finished run folder applied to one patient's NIfTI files and clinical values: the combined-model probability with its parts and the training cut-off, the SIJ mask on the patient's own grid, and a one-page HTML.
- `sacroiliitis_dlr.updating`: Recalibration in the large, logistic recalibration and re-estimation of the combined model at a new site, the closed testing procedure that chooses among them, and the bootstrap's honest estimate of the updated model's performance."""

__version__ = "0.1.0"
