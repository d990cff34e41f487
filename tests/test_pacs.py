"DICOM in and back to PACS, end to end through `dicom.study_images` and `pacs`: a generated two-series coronal study, its SEG read back voxel for voxel, and the result pictures filed in the same study."
import numpy as np
import nibabel as nib
import pydicom
import pytest
from pydicom.uid import generate_uid

from sacroiliitis_dlr.data import resample_mask
from sacroiliitis_dlr.dicom import DicomImportError, study_images, volume_to_dicom
from sacroiliitis_dlr.pacs import (PDF_STORAGE, RESEARCH_ONLY, PacsError, read_seg_frames, result_figure, sample_on_instances,
                                   write_result_capture, write_result_pdf, write_seg)

SHAPE = (96, 80, 12)  # columns (to the patient's left), rows (to the feet), slices (backwards)
CORONAL = np.array([[-0.98, 0, 0, 47.0], [0, 0, -5, 0.0], [0, -0.98, 0, 40.0], [0, 0, 0, 1]])  # Siemens-like coronal SIJ
PATIENT = dict(PatientName="Roe^Rita", PatientID="MRN31337", PatientBirthDate="19750505", PatientSex="F",
               AccessionNumber="ACC4242", StudyDate="20260202", StudyTime="080000", StudyID="7")


def pelvis(seed):
    rng = np.random.default_rng(seed)
    x, y, _ = np.meshgrid(*[np.arange(n) for n in SHAPE], indexing="ij")
    return (400*(((x - 48)/44)**2 + ((y - 40)/36)**2 < 1) + rng.integers(0, 50, SHAPE)).astype(np.int16)


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    "A one-patient study (coronal T1, STIR, a localizer) converted by `study_images` into a work folder."
    root = tmp_path_factory.mktemp("pacs")
    uid = generate_uid()
    t1 = volume_to_dicom(pelvis(0), CORONAL, root/"study"/"b_t1", "t1_tse_cor", PATIENT, 2, uid)
    t1 = [f.rename(f.with_name(f"im{len(t1) - k:02d}.dcm")) for k, f in enumerate(t1)]  # name order is not instance order
    volume_to_dicom(pelvis(1), CORONAL, root/"study"/"a_stir", "t2_tirm_cor", PATIENT, 3, uid)
    volume_to_dicom(pelvis(2)[:, :, :1], CORONAL, root/"study"/"c_loc", "localizer", PATIENT, 1, uid)
    (root/"work").mkdir()
    return root, uid, t1, study_images(root/"study", root/"work")


@pytest.fixture(scope="module")
def seg(study):
    "The SIJ mask (two boxes, left and right of the midline) on the T1 NIfTI grid, written as a SEG."
    root, _, _, si = study
    img = nib.load(si.paths["T1WI"])
    own = np.zeros(SHAPE, np.uint8); own[30:38, 20:60, 3:9] = 1; own[58:66, 20:60, 3:9] = 1
    mask = nib.Nifti1Image(resample_mask(own, CORONAL, img.shape, img.affine), img.affine)
    return own, mask, write_seg(mask, si.series["T1WI"], root/"seg.dcm", description="SIJ mask; WARNING: test")


def test_study_images(study):
    root, _, t1, si = study
    assert list(si.paths) == ["T1WI", "FS-T2WI"] and all(p.parent == root/"work" for p in si.paths.values())
    assert sorted(p.name for p in (root/"work").iterdir()) == ["FS-T2WI.nii.gz", "T1WI.nii.gz"]
    assert si.series["T1WI"] == tuple(t1) and len(si.series["FS-T2WI"]) == SHAPE[2]
    # the converted volume is the DICOM pixel data, sampled at the pixel centres
    src = [pydicom.dcmread(f) for f in si.series["T1WI"]]
    np.testing.assert_array_equal(sample_on_instances(nib.load(si.paths["T1WI"]), src), np.stack([d.pixel_array for d in src]))
    # identifiers stay on this path (the results go back to the same study): nothing is de-identified
    assert pydicom.dcmread(si.series["T1WI"][0]).PatientName == "Roe^Rita"


def test_study_refusals(study, tmp_path):
    root, uid, _, _ = study
    other = dict(PATIENT, PatientID="MRN99999")
    volume_to_dicom(pelvis(3), CORONAL, tmp_path/"two"/"t1", "t1_tse_cor", other, 2, generate_uid())
    volume_to_dicom(pelvis(3), CORONAL, tmp_path/"two"/"t1b", "T1 TSE COR", PATIENT, 4, uid)
    with pytest.raises(DicomImportError) as e: study_images(tmp_path/"two", tmp_path/"w")
    msg = str(e.value)
    assert "2 PatientIDs (MRN31337, MRN99999)" in msg and "2 studies" in msg and "no series for ['FS-T2WI']" in msg, msg
    assert not (tmp_path/"w").exists()


def test_seg_reads_back(study, seg):
    root, uid, _, si = study
    own, mask, seg_file = seg
    ds = pydicom.dcmread(seg_file)
    src = [pydicom.dcmread(f) for f in si.series["T1WI"]]
    assert ds.Modality == "SEG" and ds.SegmentationType == "BINARY" and int(ds.NumberOfFrames) == len(src)
    refs = {i.ReferencedSOPInstanceUID for s in ds.ReferencedSeriesSequence for i in s.ReferencedInstanceSequence}
    refs |= {s.ReferencedSOPInstanceUID for f in ds.PerFrameFunctionalGroupsSequence for d in f.DerivationImageSequence
             for s in d.SourceImageSequence}
    assert refs == {d.SOPInstanceUID for d in src}
    back = read_seg_frames(seg_file, si.series["T1WI"])
    assert back.shape == (SHAPE[2], SHAPE[1], SHAPE[0]) and back.dtype == bool
    np.testing.assert_array_equal(back, sample_on_instances(mask, src) > 0)
    np.testing.assert_array_equal(back, own.transpose(2, 1, 0) > 0)  # frame k is slice k of the written volume
    assert back.sum() == np.asanyarray(mask.dataobj).sum() > 0
    # the frames come back in the order asked for
    np.testing.assert_array_equal(read_seg_frames(seg_file, si.series["T1WI"][::-1]), back[::-1])
    assert (ds.PatientID, ds.StudyInstanceUID, ds.AccessionNumber) == ("MRN31337", uid, "ACC4242")
    s = ds.SegmentSequence[0]
    assert (s.SegmentLabel, s.SegmentedPropertyTypeCodeSequence[0].CodeValue, s.SegmentAlgorithmType) == ("Sacroiliac joint", "39723000", "AUTOMATIC")
    assert s.SegmentDescription == ds.SeriesDescription == "SIJ mask; WARNING: test"
    assert s.SegmentationAlgorithmIdentificationSequence[0].AlgorithmName == "sacroiliitis-dlr"


def test_seg_refusals(study, seg, tmp_path):
    _, _, _, si = study
    _, mask, _ = seg
    with pytest.raises(PacsError, match="2 series"):
        write_seg(mask, [*si.series["T1WI"], si.series["FS-T2WI"][0]], tmp_path/"x.dcm", description="x")
    moved = nib.Nifti1Image(np.asanyarray(mask.dataobj), mask.affine + np.r_[np.c_[np.zeros((3, 3)), [900, 0, 0]], [[0, 0, 0, 0]]])
    with pytest.raises(PacsError, match="outside this series"):
        write_seg(moved, si.series["T1WI"], tmp_path/"y.dcm", description="x")


def test_result_capture_and_pdf(study, seg, tmp_path):
    _, uid, _, si = study
    own, _, _ = seg
    page = result_figure("Sacroiliitis", ["P = 0.73 (95% CI 0.58 to 0.84)", "cut-off 0.50"], own[:, :, 5].T*255, size=(640, 480))
    assert page.shape == (480, 640, 3) and page.dtype == np.uint8
    sc = pydicom.dcmread(write_result_capture(page, si.series["T1WI"], tmp_path/"sc.dcm", title="result"))
    assert (sc.SOPClassUID, sc.PhotometricInterpretation, sc.BurnedInAnnotation) == ("1.2.840.10008.5.1.4.1.1.7", "RGB", "YES")
    assert (sc.PatientID, sc.PatientName, sc.StudyInstanceUID) == ("MRN31337", "Roe^Rita", uid)
    np.testing.assert_array_equal(sc.pixel_array, page)
    pdf = b"%PDF-1.4\n% a tiny stand-in\n%%EOF\n"
    doc = pydicom.dcmread(write_result_pdf(pdf, si.series["T1WI"], tmp_path/"doc.dcm", title=RESEARCH_ONLY))
    assert (doc.SOPClassUID, doc.Modality, doc.StudyInstanceUID, doc.PatientID) == (PDF_STORAGE, "DOC", uid, "MRN31337")
    assert doc.EncapsulatedDocument[:doc.EncapsulatedDocumentLength] == pdf
